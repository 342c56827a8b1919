// TD VMCS fields whose host writes the module checks (metadata_vp.c's VMCS write
// handling): enabling posted interrupts in the pin-based controls needs the
// notification vector and the descriptor address written first. The descriptor address
// is a physical-address field: its initial NULL_PA keeps no bits outside the write mask.
import { decodeBits } from "../spec/bits.ts";
import { catalog, type MdContext, type MdElement, type MdHandlers } from "./metadata.ts";
import { tdxLimit } from "./td_limits.ts";
import { nullPaWrite } from "./md_pa_field.ts";

function stored(c: MdContext, name: string): { value: bigint; code: bigint } {
  const cat = catalog(c.spec);
  const field = cat.field("vcpu", name);
  const id = cat.elementId(field, 0);
  const code = decodeBits(c.spec.bitfield("MD_FIELD_ID").fields, id).fields.FIELD_CODE;
  return { value: c.vcpu!.fields.get(id) ?? 0n, code };
}

export const VMCS_MD_VALUES: MdHandlers = {
  POSTED_INTR_DESC_ADDR: {
    adjustOnWrite: nullPaWrite,
  },
  PIN_BASED_VM_EXEC_CONTROL: {
    write: (c: MdContext, el: MdElement, value: bigint) => {
      const ctls = decodeBits(c.spec.bitfield("PIN_BASED_VM_EXEC_CONTROL").fields, value).fields;
      if (ctls.PROCESS_POSTED_INTERRUPTS === 1n) {
        // The detail names the VMCS field (its encoding) that is still unset.
        const nv = stored(c, "POSTED_INTR_NV");
        const nvInit = tdxLimit(c.spec, "POSTED_INTERRUPT_NOTIFICATION_VECTOR_INIT");
        if ((nv.value & 0xFFFFn) === nvInit) {
          return { status: "TDX_TD_VMCS_FIELD_NOT_INITIALIZED", detail: nv.code };
        }
        const pid = stored(c, "POSTED_INTR_DESC_ADDR");
        if (pid.value === 0xFFFF_FFFF_FFFF_FFFFn) {
          return { status: "TDX_TD_VMCS_FIELD_NOT_INITIALIZED", detail: pid.code };
        }
      }
      c.vcpu!.fields.set(el.id, value);
      return undefined;
    },
  },
};
