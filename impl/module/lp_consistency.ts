// TDH.SYS.LP.INIT's comparison of the calling LP with the platform TDH.SYS.INIT recorded:
// the same capability and configuration MSRs, the same CPUID values under each leaf's
// must-be-same mask, a package ID the module can handle, and the same SMRRs and
// key-management MSRs. The order is the module's.
import type { Spec } from "../spec/mod.ts";
import type { Cpu } from "../cpu/cpu.ts";
import {
  isFault,
  type PlatformFault,
  PlatformReader,
  type SampledPlatform,
} from "./platform_sample.ts";
import { checkForLeaf, cpuidLeaf, subleafRaw } from "./cpuid_checks.ts";
import { platformLimitN } from "./platform_limits.ts";

function compareMsrs(r: PlatformReader, s: SampledPlatform, names: string[]) {
  for (const name of names) {
    const idx = r.index(name);
    if (r.msr(name) !== (s.msrs.get(idx) ?? 0n)) {
      return { status: "TDX_INCONSISTENT_MSR", detail: idx } as PlatformFault;
    }
  }
  return undefined;
}

function compareCpuid(r: PlatformReader, s: SampledPlatform): PlatformFault | { pkg: number } {
  const spec = r.spec;
  if (r.fields("IA32_MISC_ENABLE").LIMIT_CPUID_MAXVAL !== 0n) {
    return { status: "TDX_LIMIT_CPUID_MAXVAL_SET" };
  }
  const topology = cpuidLeaf(spec, "V2_TOPOLOGY");
  let pkg = -1;
  for (const [key, platform] of s.cpuid) {
    const [leaf, subleaf] = key.split(":").map(Number);
    const check = checkForLeaf(spec, leaf);
    if (!check) continue;
    const mine = r.cpuid(leaf, subleaf);
    const m = check.sameMask();
    const differs = (["eax", "ebx", "ecx", "edx"] as const).some((reg) =>
      ((mine[reg] ^ platform[reg]) & m[reg]) !== 0
    );
    if (differs) {
      const pair = (lo: number, hi: number) => BigInt(lo >>> 0) | (BigInt(hi >>> 0) << 32n);
      return {
        status: "TDX_INCONSISTENT_CPUID_FIELD",
        outputs: {
          cpuid_leaf_subleaf: BigInt(leaf) | (BigInt(subleafRaw(check, subleaf)) << 32n),
          cpuid_mask_eax_ebx: pair(m.eax, m.ebx),
          cpuid_mask_ecx_edx: pair(m.ecx, m.edx),
        },
      };
    }
    if (leaf === topology && subleaf === 0) {
      pkg = mine.edx >>> s.pkgShift;
      if (pkg >= platformLimitN(spec, "MAX_PKGS")) {
        return { status: "TDX_INVALID_PKG_ID", detail: BigInt(pkg) };
      }
    }
  }
  return { pkg };
}

/** Checks the calling LP; returns its package ID or the first difference. */
export function checkLpConsistency(
  spec: Spec,
  cpu: Cpu,
  lp: number,
  s: SampledPlatform,
): PlatformFault | { pkg: number } {
  const r = new PlatformReader(spec, cpu, lp);
  const first = compareMsrs(r, s, [
    "IA32_CORE_CAPABILITIES",
    "IA32_ARCH_CAPABILITIES",
    "IA32_MISC_PACKAGE_CTLS",
    "IA32_XAPIC_DISABLE_STATUS",
  ]);
  if (first) return first;
  const cpuid = compareCpuid(r, s);
  if (isFault(cpuid)) return cpuid;
  const rest = compareMsrs(r, s, [
    "IA32_TSC_ADJUST",
    "IA32_MTRRCAP",
    "IA32_SMRR_PHYSBASE",
    "IA32_SMRR_PHYSMASK",
    ...(s.smrr2 ? ["IA32_SMRR2_PHYSBASE", "IA32_SMRR2_PHYSMASK"] : []),
    "IA32_PERF_CAPABILITIES",
    "IA32_TME_CAPABILITY",
    "IA32_TME_ACTIVATE",
    "IA32_MKTME_KEYID_PARTITIONING",
    "IA32_WBINVDP",
    "IA32_WBNOINVDP",
  ]);
  if (rest) return rest;
  return cpuid;
}
