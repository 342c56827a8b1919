// The TDX module's global metadata the host reads once with TDH.SYS.RD (Linux's
// tdx_get_sysinfo()), and the checks kvm_intel makes before it offers TD VMs.
import { decodeBits } from "../spec/bits.ts";
import { parseHex } from "../spec/hex.ts";
import type { Seamcaller } from "./seamcall.ts";

export interface TdxSysInfo {
  attributesFixed0: bigint;
  attributesFixed1: bigint;
  xfamFixed0: bigint;
  xfamFixed1: bigint;
  numCpuidConfig: number;
  /** Leaf in bits 31:0, sub-leaf in 63:32 (all ones: no sub-leaf). */
  cpuidConfigLeaves: bigint[];
  /** [EBX:EAX, EDX:ECX] of the configurable bits of each leaf. */
  cpuidConfigValues: [bigint, bigint][];
  tdcsBaseSize: number;
  tdvpsBaseSize: number;
  maxVcpusPerTd: number;
  tdxFeatures0: bigint;
}

/** Reads the global metadata KVM uses; undefined if any read fails (TDX unusable). */
export function readSysInfo(seam: Seamcaller, lp: number): TdxSysInfo | undefined {
  const spec = seam.spec;
  let failed = false;
  const read = (name: string, index = 0): bigint => {
    const md = spec.metadataField("global", name);
    const r = seam.call(lp, "TDH.SYS.RD", { field_id: parseHex(md.field_id) + BigInt(index) });
    if (r.status !== 0n) failed = true;
    const bits = BigInt(md.element_size * 8);
    return r.out.value & ((1n << bits) - 1n);
  };
  const info: TdxSysInfo = {
    attributesFixed0: read("ATTRIBUTES_FIXED0"),
    attributesFixed1: read("ATTRIBUTES_FIXED1"),
    xfamFixed0: read("XFAM_FIXED0"),
    xfamFixed1: read("XFAM_FIXED1"),
    numCpuidConfig: Number(read("NUM_CPUID_CONFIG")),
    cpuidConfigLeaves: [],
    cpuidConfigValues: [],
    tdcsBaseSize: Number(read("TDCS_BASE_SIZE")),
    tdvpsBaseSize: Number(read("TDVPS_BASE_SIZE")),
    maxVcpusPerTd: Number(read("MAX_VCPUS_PER_TD")),
    tdxFeatures0: read("TDX_FEATURES0"),
  };
  if (failed) return undefined;
  for (let i = 0; i < info.numCpuidConfig; i++) {
    info.cpuidConfigLeaves.push(read("CPUID_CONFIG_LEAVES", i));
    info.cpuidConfigValues.push([
      read("CPUID_CONFIG_VALUES", 2 * i),
      read("CPUID_CONFIG_VALUES", 2 * i + 1),
    ]);
  }
  return failed ? undefined : info;
}

/** Why kvm_intel would leave TDX disabled with this module, or undefined if it is usable. */
export function tdxUnusableReason(
  seam: Seamcaller,
  info: TdxSysInfo,
  kvmAttrs: bigint,
  kvmXfam: bigint,
  presentLps: number,
): string | undefined {
  if (supportedBits(kvmAttrs, info.attributesFixed0, info.attributesFixed1) === 0n) {
    return "ATTRIBUTES_FIXED1 has bits KVM does not support";
  }
  if (supportedBits(kvmXfam, info.xfamFixed0, info.xfamFixed1) === 0n) {
    return "XFAM_FIXED1 has bits KVM does not support";
  }
  const f = decodeBits(seam.spec.bitfield("TDX_FEATURES0").fields, info.tdxFeatures0).fields;
  if (!f.TOPOLOGY_ENUM) return "the module cannot enumerate topology (TDX_FEATURES0)";
  if (info.maxVcpusPerTd < presentLps) return "MAX_VCPUS_PER_TD is below the number of CPUs";
  return undefined;
}

/** KVM's mask of settable bits: 0 when the module forces a bit KVM cannot support. */
export function supportedBits(kvm: bigint, fixed0: bigint, fixed1: bigint): bigint {
  if ((kvm & fixed1) !== fixed1) return 0n;
  return kvm & fixed0;
}
