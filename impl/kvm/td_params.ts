// setup_tdparams: the TD_PARAMS KVM passes to TDH.MNG.INIT, built from kvm_tdx_init_vm
// and the VM's own settings, and encoded by the spec's TD_PARAMS layout.
import { encodeBits } from "../spec/bits.ts";
import type { DecodedStruct } from "../spec/codec.ts";
import { fail, type Failure } from "./errno.ts";
import { tdxValue } from "./ioctl_number.ts";
import {
  configEntry,
  type CpuidEntry,
  entryFromStruct,
  findEntry,
  guestPaBits,
  hasUnsupportedCpuid,
  leafNumber,
  withGuestPaBits,
} from "./tdx_cpuid.ts";
import { supportedAttrsXfam } from "./tdx_vm_ops.ts";
import type { KvmVm } from "./vm.ts";

export interface TdParams {
  bytes: Uint8Array;
  attributes: bigint;
  xfam: bigint;
  gpaw: number;
}

export function buildTdParams(vm: KvmVm, initVm: DecodedStruct): TdParams | Failure {
  const { spec, host } = vm;
  const info = host.sysinfo!;
  if (vm.vcpus.length || vm.vcpusInCreation) return fail("EBUSY");
  const { attrs, xfam } = supportedAttrsXfam(vm);
  const reqAttrs = initVm.attributes as bigint;
  const reqXfam = initVm.xfam as bigint;
  if (reqAttrs & ~attrs) return fail("EINVAL");
  if (reqXfam & ~xfam) return fail("EINVAL");
  const cpuid = initVm.cpuid as DecodedStruct;
  const entries = (cpuid.entries as DecodedStruct[]).map(entryFromStruct);

  // The GPAW comes from leaf 0x80000008 EAX[23:16]: 48 (4-level EPT) or 52 (5-level).
  const sizes = findEntry(spec, entries, leafNumber(spec, "ADDRESS_SIZES"), 0);
  if (!sizes) return fail("EINVAL");
  const gpaw = guestPaBits(spec, sizes.eax);
  if (gpaw !== 48 && gpaw !== 52) return fail("EINVAL");
  if (gpaw === 52 && !host.ept5Level) return fail("EINVAL");

  const values: DecodedStruct[] = [];
  let copied = 0;
  for (let i = 0; i < info.numCpuidConfig; i++) {
    const slot = configEntry(spec, info, i);
    const e: CpuidEntry | undefined = findEntry(spec, entries, slot.function, slot.index);
    if (!e) {
      values.push({ eax: 0, ebx: 0, ecx: 0, edx: 0 });
      continue;
    }
    if (hasUnsupportedCpuid(spec, e)) return fail("EINVAL");
    copied++;
    // The module does not accept the guest-PA-bits field KVM used for the GPAW.
    const eax = slot.function === leafNumber(spec, "ADDRESS_SIZES")
      ? withGuestPaBits(spec, e.eax, 0)
      : e.eax;
    values.push({ eax, ebx: e.ebx, ecx: e.ecx, edx: e.edx });
  }
  // Entries the module has no slot for would be silently dropped: refuse them.
  if (copied !== entries.length) return fail("EINVAL");

  const slots = spec.struct("TD_PARAMS").fields.find((f) => f.name === "cpuid_config_vals")!.count!;
  if (values.length > slots) {
    throw new Error(
      `NUM_CPUID_CONFIG ${values.length} exceeds the spec's TD_PARAMS layout (${slots})`,
    );
  }
  while (values.length < slots) values.push({ eax: 0, ebx: 0, ecx: 0, edx: 0 });

  const attributes = reqAttrs | info.attributesFixed1;
  const xfamOut = reqXfam | info.xfamFixed1;
  const eptp = encodeBits(spec.bitfield("EPTP_CONTROLS").fields, {
    EPT_PS_MT: spec.enumValue("ept_memory_type", "WB"),
    EPT_PWL: BigInt((gpaw === 52 ? 5 : 4) - 1),
  });
  const configFlags = encodeBits(spec.bitfield("CONFIG_FLAGS").fields, {
    NO_RBP_MOD: 1n,
    GPAW: gpaw === 52 ? 1n : 0n,
  });
  const unit = tdxValue(spec, "KVM_SET_TSC_KHZ", "TSC_FREQUENCY unit");
  const bytes = host.codec.encode("TD_PARAMS", {
    attributes,
    xfam: xfamOut,
    max_vcpus: vm.maxVcpus,
    num_l2_vms: 0,
    msr_config_ctls: 0,
    eptp_controls: eptp,
    config_flags: configFlags,
    tsc_frequency: Number(BigInt(vm.tscKhz) / unit),
    mr_config_id: initVm.mrconfigid as Uint8Array,
    mr_owner: initVm.mrowner as Uint8Array,
    mr_owner_config: initVm.mrownerconfig as Uint8Array,
    ia32_arch_capabilities_config: 0n,
    cpuid_config_vals: values,
  });
  return { bytes, attributes, xfam: xfamOut, gpaw };
}
