// vCPU metadata of TD partitioning: the per-VM controls (L2_CTLS, L2_DEBUG_CTLS) exist
// only for VM 0 and the TD's L2 VMs; an L2 VMCS's virtual-APIC page address is the GPA
// L1 wrote (TDVPS L2_VAPIC_GPA), a private GPA within the GPA width, NULL_PA until set.
import { checkPrivateGpa, NULL_PA, septGeometry } from "./sept.ts";
import { nullPaWrite } from "./md_pa_field.ts";
import type { MdContext, MdElement, MdFieldHandler, MdHandlers } from "./metadata.ts";
import { l2Of } from "./l2_state.ts";

const perVm: MdFieldHandler = {
  exists: (c, el: MdElement) => el.fieldIndex <= (c.td?.numL2Vms ?? 0),
};

function vapicGpa(vm: number): MdFieldHandler {
  return {
    exists: (c: MdContext) => vm <= (c.td?.numL2Vms ?? 0),
    read: (c) => l2Of(c.vcpu!).vapicGpa.get(vm) ?? NULL_PA,
    adjustOnWrite: nullPaWrite,
    write: (c, _el, value) => {
      if (!checkPrivateGpa(septGeometry(c.spec, c.td!), value)) {
        return { status: "TDX_METADATA_FIELD_VALUE_NOT_VALID" };
      }
      const l2 = l2Of(c.vcpu!);
      l2.vapicGpa.set(vm, value);
      l2.vapicHpa.delete(vm);
      return undefined;
    },
  };
}

export const L2_MD_VALUES: MdHandlers = {
  L2_CTLS: perVm,
  L2_DEBUG_CTLS: perVm,
  L2_VM1_VIRTUAL_APIC_PAGE_ADDR: vapicGpa(1),
  L2_VM2_VIRTUAL_APIC_PAGE_ADDR: vapicGpa(2),
  L2_VM3_VIRTUAL_APIC_PAGE_ADDR: vapicGpa(3),
};
