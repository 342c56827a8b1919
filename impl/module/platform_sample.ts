// TDH.SYS.INIT's platform check: the module samples MSRs, CPUID, key management, the CMR
// list MCHECK left, the SMRRs, the SEAMOPS capabilities and its own SIGSTRUCT values on
// the calling LP, refuses what it cannot run on, and records the rest as the platform
// configuration every later LP must match (TDH.SYS.LP.INIT) and the leaves rely on.
import type { Spec } from "../spec/mod.ts";
import type { Cpu, MemoryRange } from "../cpu/cpu.ts";
import type { CpuidValues } from "../cpu/cpuid.ts";
import type { SeamdbRef } from "../cpu/seamdb.ts";
import type { ModuleProfile } from "./module_profile.ts";
import { platformLimit, platformLimitN } from "./platform_limits.ts";
import { CPUID_CHECKS, type CpuidCheck, cpuidLeaf, subleafRaw } from "./cpuid_checks.ts";
import { cpuidKey, leafSubleaf } from "./td_params.ts";
import { applyCpuidFixed, cpuidFixed } from "./cpuid_fixed.ts";

/** The platform as TDH.SYS.INIT found it. */
export interface SampledPlatform {
  /** Raw values of the MSRs later compared on every LP, by index. */
  msrs: Map<bigint, bigint>;
  /** CPUID values of the checked leaves, by `${leaf}:${subleaf}`, as read on the init LP. */
  cpuid: Map<string, CpuidValues>;
  /**
   * The module's CPUID values of every leaf it virtualises for TDs (TD_CPUID_LOOKUP), by
   * cpuidKey: native as sampled, with the fixed bits (TD_CPUID_FIXED) applied once
   * TDH.SYS.CONFIG or TDH.SYS.UPDATE completes. What TDH.MNG.INIT and TDH.SYS.INFO start
   * from, so a CPUID change after TDH.SYS.INIT does not reach them.
   */
  tdCpuid: Map<string, CpuidValues>;
  /**
   * The same leaves as sampled, never fixed: the facts the module keeps in globals of their
   * own at TDH.SYS.INIT (XSAVE support, native TSC frequency) come from these.
   */
  nativeTdCpuid: Map<string, CpuidValues>;
  maxPa: number;
  /** Lowest physical-address bit of the HKID. */
  hkidStartBit: number;
  privateHkidMin: number;
  privateHkidMax: number;
  numLps: number;
  numPkgs: number;
  /** Shift of the x2APIC ID that yields the package ID. */
  pkgShift: number;
  cacheSubBlocks: number;
  seamCapabilities: bigint;
  seamrr: MemoryRange;
  cmrs: MemoryRange[];
  /** CPUID.1.EAX: the lowest stepping among packages. */
  platformFms: number;
  pkgFms: number[];
  /** Whether SMRR2 exists (and was checked). */
  smrr2: boolean;
  /** The SEAM database's newest entry (SEAMOPS SEAMDB_GETREF): this module build's. */
  seamdb: SeamdbRef;
}

/** A refused platform: the status, its detail and any registers the status fills. */
export interface PlatformFault {
  status: string;
  detail?: string | bigint;
  outputs?: Record<string, bigint>;
}

export function isFault(x: unknown): x is PlatformFault {
  return typeof x === "object" && x !== null && "status" in x;
}

/** Packs up to four byte-sized details the way multi-info statuses carry them (bits 7:0, 15:8, ...). */
export function multiInfo(...infos: number[]): bigint {
  return infos.reduce((acc, v, i) => acc | (BigInt(v & 0xFF) << BigInt(8 * i)), 0n);
}

export class PlatformReader {
  constructor(readonly spec: Spec, readonly cpu: Cpu, readonly lp: number) {}

  index(name: string): bigint {
    return this.cpu.msrs.index(name);
  }
  /** RDMSR on the LP; an MSR the platform lacks reads as 0 here. */
  msr(name: string): bigint {
    return this.cpu.rdmsr(this.lp, this.index(name)) ?? 0n;
  }
  fields(name: string, layout = name): Record<string, bigint> {
    return this.cpu.msrs.decode(layout, this.msr(name));
  }
  cpuid(leaf: number, subleaf: number): CpuidValues {
    return this.cpu.cpuidOn(this.lp, leaf, subleaf);
  }
  cpuidFields(bitfield: string, value: number): Record<string, bigint> {
    return this.cpu.msrs.decode(bitfield, BigInt(value >>> 0));
  }
  incorrectMsr(name: string): PlatformFault {
    return { status: "TDX_INCORRECT_MSR_VALUE", detail: this.index(name) };
  }
}

/** MSRs sampled at TDH.SYS.INIT and required to be the same on every LP. */
export const COMPARED_MSRS = [
  "IA32_CORE_CAPABILITIES",
  "IA32_ARCH_CAPABILITIES",
  "IA32_MISC_PACKAGE_CTLS",
  "IA32_XAPIC_DISABLE_STATUS",
  "IA32_TSC_ADJUST",
  "IA32_MTRRCAP",
  "IA32_SMRR_PHYSBASE",
  "IA32_SMRR_PHYSMASK",
  "IA32_SMRR2_PHYSBASE",
  "IA32_SMRR2_PHYSMASK",
  "IA32_PERF_CAPABILITIES",
  "IA32_TME_CAPABILITY",
  "IA32_TME_ACTIVATE",
  "IA32_MKTME_KEYID_PARTITIONING",
  "IA32_WBINVDP",
  "IA32_WBNOINVDP",
] as const;

/** IA32_ARCH_CAPABILITIES bits tdx_1.5 requires set (and RSBA clear). */
const ARCH_CAPS_REQUIRED = [
  "RDCL_NO",
  "IBRS_ALL",
  "SKIP_L1DFL_VMENTRY",
  "MDS_NO",
  "IF_PSCHANGE_MC_NO",
  "TAA_NO",
  "MISC_PACKAGE_CTLS",
  "ENERGY_FILTERING_CTL",
  "DOITM",
  "SBDR_SSDP_NO",
  "FBSDP_NO",
  "PSDP_NO",
  "XAPIC_DISABLE_STATUS",
];

function checkCapabilityMsrs(r: PlatformReader): PlatformFault | undefined {
  const arch = r.fields("IA32_ARCH_CAPABILITIES");
  if (ARCH_CAPS_REQUIRED.some((f) => arch[f] !== 1n) || arch.RSBA !== 0n) {
    return r.incorrectMsr("IA32_ARCH_CAPABILITIES");
  }
  const xapic = r.fields("IA32_XAPIC_DISABLE_STATUS");
  if (xapic.LEGACY_XAPIC_DISABLED !== 1n || xapic.RESERVED_1 !== 0n) {
    return r.incorrectMsr("IA32_XAPIC_DISABLE_STATUS");
  }
  if (r.fields("IA32_MISC_PACKAGE_CTLS").ENERGY_FILTERING_ENABLE !== 1n) {
    return r.incorrectMsr("IA32_MISC_PACKAGE_CTLS");
  }
  if (r.fields("IA32_PERF_CAPABILITIES").FULL_WRITE !== 1n) {
    return r.incorrectMsr("IA32_PERF_CAPABILITIES");
  }
  return undefined;
}

/** The registers TDX_INCORRECT_CPUID_VALUE fills: leaf/sub-leaf, masks and expected values. */
function cpuidMismatch(spec: Spec, check: CpuidCheck, subleaf: number): PlatformFault {
  const leaf = BigInt(cpuidLeaf(spec, check.leaf));
  const pair = (lo: number, hi: number) => BigInt(lo >>> 0) | (BigInt(hi >>> 0) << 32n);
  const m = check.mask(spec);
  const v = check.value(spec);
  return {
    status: "TDX_INCORRECT_CPUID_VALUE",
    outputs: {
      cpuid_leaf_subleaf: leaf | (BigInt(subleafRaw(check, subleaf)) << 32n),
      cpuid_mask_eax_ebx: pair(m.eax, m.ebx),
      cpuid_mask_ecx_edx: pair(m.ecx, m.edx),
      cpuid_value_eax_ebx: pair(v.eax, v.ebx),
      cpuid_value_ecx_edx: pair(v.ecx, v.edx),
    },
  };
}

interface CpuidFacts {
  cpuid: Map<string, CpuidValues>;
  tdCpuid: Map<string, CpuidValues>;
  maxPa: number;
  pkgShift: number;
}

function checkCpuid(r: PlatformReader): PlatformFault | CpuidFacts {
  const spec = r.spec;
  if (r.fields("IA32_MISC_ENABLE").LIMIT_CPUID_MAXVAL !== 0n) {
    return { status: "TDX_LIMIT_CPUID_MAXVAL_SET" };
  }
  const lastBase = r.cpuid(cpuidLeaf(spec, "MAX_BASIC"), 0).eax >>> 0;
  const minBase = platformLimit(spec, "MIN_LAST_BASE_CPUID_LEAF");
  if (BigInt(lastBase) < minBase) {
    return { status: "TDX_CPUID_LEAF_NOT_SUPPORTED", detail: minBase };
  }
  const lastExt = r.cpuid(cpuidLeaf(spec, "MAX_EXTENDED"), 0).eax >>> 0;
  const minExt = platformLimit(spec, "MIN_LAST_EXTENDED_CPUID_LEAF");
  if (BigInt(lastExt) < minExt) return { status: "TDX_CPUID_LEAF_NOT_SUPPORTED", detail: minExt };

  const sampled = new Map<string, CpuidValues>();
  const firstExt = cpuidLeaf(spec, "MAX_EXTENDED");
  const supported = (leaf: number) => leaf <= lastBase || (leaf >= firstExt && leaf <= lastExt);
  let lpsSharingL3 = -1;
  let pkgShift = -1;
  let maxPa = 0;
  for (const check of CPUID_CHECKS) {
    const leaf = cpuidLeaf(spec, check.leaf);
    for (const subleaf of check.subleaves) {
      const v = supported(leaf) ? r.cpuid(leaf, subleaf) : { eax: 0, ebx: 0, ecx: 0, edx: 0 };
      sampled.set(`${leaf}:${subleaf}`, v);
      if (!check.matches(spec, v)) return cpuidMismatch(spec, check, subleaf);
      switch (check.leaf) {
        case "CACHE_PARAMS":
          if (subleaf === 3) {
            lpsSharingL3 = Number(r.cpuidFields("CPUID_04_EAX", v.eax).MAX_LPS_SHARING_CACHE);
          }
          break;
        case "TSC_CRYSTAL":
          if (v.ebx === 0) {
            return { status: "TDX_CPUID_LEAF_NOT_SUPPORTED", detail: BigInt(leaf) };
          }
          break;
        case "ADDRESS_SIZES":
          maxPa = Number(r.cpuidFields("CPUID_80000008_EAX", v.eax).PA_BITS);
          break;
      }
    }
    if (check.leaf === "V2_TOPOLOGY") {
      const topo = walkTopology(r, leaf, lpsSharingL3);
      if (isFault(topo)) return topo;
      pkgShift = topo.pkgShift;
      for (const [k, v] of topo.sampled) sampled.set(k, v);
    }
  }
  return { cpuid: sampled, tdCpuid: sampleTdCpuid(r, supported), maxPa, pkgShift };
}

/** Every TD_CPUID_LOOKUP entry on the init LP; a leaf the CPU does not have reads as zeros. */
function sampleTdCpuid(
  r: PlatformReader,
  supported: (leaf: number) => boolean,
): Map<string, CpuidValues> {
  const out = new Map<string, CpuidValues>();
  for (const v of r.spec.enum("TD_CPUID_LOOKUP").values) {
    const raw = BigInt(v.value);
    const { leaf, subleaf } = leafSubleaf(r.spec, raw);
    const read = subleaf === 0xFFFF_FFFF ? 0 : subleaf;
    out.set(
      cpuidKey(leaf, subleaf),
      supported(leaf) ? r.cpuid(leaf, read) : { eax: 0, ebx: 0, ecx: 0, edx: 0 },
    );
  }
  return out;
}

/**
 * Native CPUID as TDH.SYS.INIT sampled it for TDs; `subleaf` of a leaf without sub-leaves
 * is ignored. Undefined for a leaf the module does not virtualise.
 */
export function sampledCpuid(
  s: SampledPlatform,
  leaf: number,
  subleaf: number,
): CpuidValues | undefined {
  const v = s.tdCpuid.get(cpuidKey(leaf, subleaf)) ?? s.tdCpuid.get(cpuidKey(leaf, 0xFFFF_FFFF));
  return v && { ...v };
}

/** As sampledCpuid, from the raw sample, before any fixed bits were applied. */
export function nativeSampledCpuid(
  s: SampledPlatform,
  leaf: number,
  subleaf: number,
): CpuidValues | undefined {
  const v = s.nativeTdCpuid.get(cpuidKey(leaf, subleaf)) ??
    s.nativeTdCpuid.get(cpuidKey(leaf, 0xFFFF_FFFF));
  return v && { ...v };
}

/** CPUID as TDH.SYS.INIT sampled it, unfixed (before TDH.SYS.INIT, the LP's live CPUID). */
export function rawCpuid(
  cpu: Cpu,
  sampled: SampledPlatform | undefined,
  lp: number,
  leaf: number,
  subleaf: number,
): CpuidValues {
  return (sampled && nativeSampledCpuid(sampled, leaf, subleaf)) ?? cpu.cpuidOn(lp, leaf, subleaf);
}

/**
 * The CPU's TSC frequency in Hz from raw CPUID 0x15, crystal (ECX) x EBX / EAX: raw, since
 * the fixed CPUID values hold the TD's 25 MHz crystal, not the CPU's.
 */
export function nativeTscHz(
  spec: Spec,
  cpu: Cpu,
  sampled: SampledPlatform | undefined,
  lp = 0,
): bigint {
  const v = rawCpuid(cpu, sampled, lp, Number(spec.enumValue("CPUID_LEAF", "TSC_CRYSTAL")), 0);
  return (BigInt(v.ecx >>> 0) * BigInt(v.ebx >>> 0)) / BigInt(Math.max(1, v.eax >>> 0));
}

/**
 * The module's complete_cpuid_handling, at the end of TDH.SYS.CONFIG and TDH.SYS.UPDATE:
 * every TD CPUID value gets its FIXED0_OR_DYNAMIC bits cleared and FIXED1 bits set.
 */
export function completeCpuidHandling(spec: Spec, s: SampledPlatform): void {
  for (const v of spec.enum("TD_CPUID_LOOKUP").values) {
    const raw = BigInt(v.value);
    const { leaf, subleaf } = leafSubleaf(spec, raw);
    const key = cpuidKey(leaf, subleaf);
    const values = s.tdCpuid.get(key);
    const fixed = cpuidFixed(spec, leaf, subleaf);
    if (values && fixed) s.tdCpuid.set(key, applyCpuidFixed(values, fixed));
  }
}

/**
 * Walks CPUID leaf 0x1F level by level: level types must increase, a core level must
 * exist, and the shift at the first invalid level (the package shift) must match the
 * L3 cache's sharing, since the module flushes caches (WBINVD) per package.
 */
function walkTopology(
  r: PlatformReader,
  leaf: number,
  lpsSharingL3: number,
): PlatformFault | { pkgShift: number; sampled: Map<string, CpuidValues> } {
  const spec = r.spec;
  const type = (n: string) => Number(spec.enumValue("CPUID_TOPOLOGY_LEVEL_TYPE", n));
  const INVALID = type("INVALID");
  const sampled = new Map<string, CpuidValues>();
  let prevType = INVALID;
  let shift = -1;
  let coreSeen = false;
  for (let subleaf = 0; subleaf < 8; subleaf++) {
    const v = r.cpuid(leaf, subleaf);
    sampled.set(`${leaf}:${subleaf}`, v);
    const levelType = Number(r.cpuidFields("CPUID_1F_ECX", v.ecx).LEVEL_TYPE);
    if (levelType !== INVALID) {
      if (levelType <= prevType || levelType >= type("MAX")) {
        return { status: "TDX_CPUID_LEAF_1F_FORMAT_UNRECOGNIZED" };
      }
      shift = Number(r.cpuidFields("CPUID_1F_EAX", v.eax).SHIFT);
      if (levelType === type("CORE")) coreSeen = true;
      prevType = levelType;
      continue;
    }
    if (subleaf === 0 || !coreSeen) {
      return { status: "TDX_CPUID_LEAF_NOT_SUPPORTED", detail: "RAX" };
    }
    if (shift < 1 || (lpsSharingL3 >> (shift - 1)) !== 1) {
      return { status: "TDX_INVALID_WBINVD_SCOPE" };
    }
    return { pkgShift: shift, sampled };
  }
  return { status: "TDX_CPUID_LEAF_1F_FORMAT_UNRECOGNIZED" };
}

interface KeyFacts {
  hkidStartBit: number;
  privateHkidMin: number;
  privateHkidMax: number;
  cacheSubBlocks: number;
}

function checkKeyManagement(r: PlatformReader, maxPa: number): PlatformFault | KeyFacts {
  const cap = r.fields("IA32_TME_CAPABILITY");
  const act = r.fields("IA32_TME_ACTIVATE");
  if (act.LOCK !== 1n) return r.incorrectMsr("IA32_TME_ACTIVATE");
  const withoutIntegrity = r.cpu.platform.tdxWithoutIntegrity;
  const [capOk, actOk] = withoutIntegrity
    ? [
      cap.AES_XTS_128 === 1n || cap.AES_XTS_256 === 1n,
      act.ALGS_AES_XTS_128 === 1n || act.ALGS_AES_XTS_256 === 1n,
    ]
    : [
      cap.AES_XTS_128_WITH_INTEGRITY === 1n || cap.AES_XTS_256_WITH_INTEGRITY === 1n,
      act.ALGS_AES_XTS_128_WITH_INTEGRITY === 1n || act.ALGS_AES_XTS_256_WITH_INTEGRITY === 1n,
    ];
  if (!capOk) return r.incorrectMsr("IA32_TME_CAPABILITY");
  if (!actOk) return r.incorrectMsr("IA32_TME_ACTIVATE");
  const part = r.fields("IA32_MKTME_KEYID_PARTITIONING");
  const min = Number(part.NUM_MKTME_KIDS) + 1;
  const max = Number(part.NUM_MKTME_KIDS + part.NUM_TDX_PRIV_KIDS);
  const maxHkids = platformLimit(r.spec, "MAX_HKIDS");
  if (BigInt(max) >= maxHkids) {
    return { status: "TDX_NUM_ACTIVATED_HKIDS_NOT_SUPPORTED", detail: maxHkids };
  }
  const blocks = r.msr("IA32_WBINVDP");
  if (r.msr("IA32_WBNOINVDP") !== blocks) return r.incorrectMsr("IA32_WBNOINVDP");
  return {
    hkidStartBit: maxPa - Number(act.MK_TME_KEYID_BITS),
    privateHkidMin: min,
    privateHkidMax: max,
    cacheSubBlocks: Number(blocks),
  };
}

function overlaps(a: MemoryRange, b: MemoryRange): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

/** MCHECK's CMR list: no overflow, no HKID bits, below MAX_PA, 4 KiB granular, ascending. */
function cmrListValid(spec: Spec, cmrs: MemoryRange[], maxPa: number, hkidStart: number): boolean {
  if (cmrs.length > platformLimitN(spec, "MAX_CMRS")) return false;
  const hkidMask = ((1n << BigInt(maxPa)) - 1n) & ~((1n << BigInt(hkidStart)) - 1n);
  const U64 = 1n << 64n;
  let prevStart = 0n;
  let prevEnd = 0n;
  for (const c of cmrs) {
    if (c.size === 0n) continue;
    if (c.base < 0n || c.size < 0n || c.base + c.size > U64) return false;
    const end = c.base + c.size - 1n;
    if ((c.base & hkidMask) !== 0n || (end & hkidMask) !== 0n || end > 1n << BigInt(maxPa)) {
      return false;
    }
    if (c.base % 4096n !== 0n || c.size % 4096n !== 0n) return false;
    if (prevEnd > 0n && (prevStart > c.base || prevEnd > c.base)) return false;
    prevStart = c.base;
    prevEnd = end;
  }
  return true;
}

/** The range of an SMRR base/mask pair, or undefined when the mask is not contiguous or the base not aligned. */
function smrrRange(r: PlatformReader, base: bigint, mask: bigint): MemoryRange | undefined {
  const b = r.cpu.msrs.decode("IA32_SMRR_PHYSBASE", base);
  const m = r.cpu.msrs.decode("IA32_SMRR_PHYSMASK", mask);
  const maskBits = m.MASK << 12n;
  if (maskBits === 0n) return undefined;
  const lowest = maskBits & -maskBits;
  const contiguous = (0x1_0000_0000n - lowest) & 0xFFFF_F000n;
  if ((maskBits ^ contiguous) !== 0n) return undefined;
  const baseBits = b.BASE << 12n;
  if ((baseBits & ~contiguous & 0xFFFF_FFFFn) !== 0n) return undefined;
  return { base: baseBits, size: lowest };
}

function checkSmrrs(r: PlatformReader, cmrs: MemoryRange[]): PlatformFault | { smrr2: boolean } {
  const cap = r.fields("IA32_MTRRCAP");
  if (cap.SMRR !== 1n) return { status: "TDX_SMRR_NOT_SUPPORTED" };
  if (cap.SMRR_LOCK !== 1n) return { status: "TDX_SMRR_LOCK_NOT_SUPPORTED" };
  const pairs = [["IA32_SMRR_PHYSBASE", "IA32_SMRR_PHYSMASK"]];
  if (cap.SMRR2 === 1n) pairs.push(["IA32_SMRR2_PHYSBASE", "IA32_SMRR2_PHYSMASK"]);
  const masks = pairs.map(([, m]) => r.fields(m, "IA32_SMRR_PHYSMASK"));
  for (let i = 0; i < pairs.length; i++) {
    if (masks[i].LOCK !== 1n) return { status: "TDX_SMRR_NOT_LOCKED", detail: BigInt(i) };
  }
  for (let i = 0; i < pairs.length; i++) {
    if (masks[i].VALID !== 1n) continue;
    const range = smrrRange(r, r.msr(pairs[i][0]), r.msr(pairs[i][1]));
    if (!range) return { status: "TDX_INVALID_SMRR_CONFIGURATION", detail: BigInt(i) };
    const hit = cmrs.findIndex((c) => c.size !== 0n && overlaps(range, c));
    if (hit >= 0) return { status: "TDX_SMRR_OVERLAPS_CMR", detail: multiInfo(i, hit) };
  }
  return { smrr2: cap.SMRR2 === 1n };
}

function sigstructCompatible(spec: Spec, profile: ModuleProfile): boolean {
  const s = profile.sigstruct;
  return BigInt(s.moduleHv) === platformLimit(spec, "MODULE_HV") &&
    BigInt(s.minUpdateHv) >= platformLimit(spec, "MIN_UPDATE_HV") &&
    !(!s.noDowngrade && platformLimit(spec, "NO_DOWNGRADE") === 1n) &&
    BigInt(s.numHandoffPages + 1) >= platformLimit(spec, "MIN_HANDOFF_PAGES");
}

/** The SEAMOPS capabilities a TD-preserving update needs. */
export function tdPreservingCapabilities(spec: Spec): bigint {
  const f = spec.bitfield("SEAMOPS_CAPABILITIES").fields;
  let m = 0n;
  for (const f1 of f) {
    if (f1.name === "SEAMDB_GETREF" || f1.name === "SEAMDB_REPORT") m |= 1n << BigInt(f1.bits[0]);
  }
  return m;
}

/**
 * Everything TDH.SYS.INIT checks after its state checks, in the module's order, ending
 * with the stack-canary RDRAND. Returns the recorded platform or the first refusal.
 */
export function samplePlatform(
  spec: Spec,
  cpu: Cpu,
  lp: number,
  profile: ModuleProfile,
): SampledPlatform | PlatformFault {
  const r = new PlatformReader(spec, cpu, lp);
  const capFault = checkCapabilityMsrs(r);
  if (capFault) return capFault;
  const cpuid = checkCpuid(r);
  if (isFault(cpuid)) return cpuid;
  const keys = checkKeyManagement(r, cpuid.maxPa);
  if (isFault(keys)) return keys;
  const cmrs = cpu.platform.cmrs.map((c) => ({ ...c }));
  if (!cmrListValid(spec, cmrs, cpuid.maxPa, keys.hkidStartBit)) {
    return { status: "TDX_CMR_LIST_INVALID" };
  }
  const smrr = checkSmrrs(r, cmrs);
  if (isFault(smrr)) return smrr;
  const caps = cpu.seamopsCapabilities(lp);
  const needed = tdPreservingCapabilities(spec);
  if ((caps & needed) !== needed) return { status: "TDX_INCOMPATIBLE_SEAM_CAPABILITIES" };
  if (!sigstructCompatible(spec, profile)) return { status: "TDX_SYS_INCOMPATIBLE_SIGSTRUCT" };
  const seamdb = cpu.seamdb.getref();
  // The module's sanity check: with no entry for its own build it stops (no status).
  if (seamdb.result !== "SEAMOPS_SUCCESS") {
    throw new Error("TDH.SYS.INIT: SEAMDB_GETREF failed (the SEAM database is empty)");
  }
  if (cpu.rdrand64() === undefined) return { status: "TDX_RND_NO_ENTROPY" };

  const msrs = new Map<bigint, bigint>();
  for (const name of COMPARED_MSRS) msrs.set(r.index(name), r.msr(name));
  const seamrrMask = r.msr("IA32_SEAMRR_PHYS_MASK") & ~0xFFFn;
  const addrMask = (1n << BigInt(cpuid.maxPa)) - 1n;
  const pkgFms = [...cpu.platform.packageFms];
  const versionFields = (fms: number) => fms & ~0xF;
  const minStepping = Math.min(...pkgFms.map((f) => f & 0xF));
  const platformFms = versionFields(pkgFms[0]) | minStepping;
  // CPUID(1).EAX is sampled as the platform's FMS (the lowest stepping of all packages).
  const versionKey = cpuidKey(cpuidLeaf(spec, "VERSION_INFO"), 0xFFFF_FFFF);
  const version = cpuid.tdCpuid.get(versionKey);
  if (version) cpuid.tdCpuid.set(versionKey, { ...version, eax: platformFms });
  return {
    msrs,
    cpuid: cpuid.cpuid,
    tdCpuid: cpuid.tdCpuid,
    nativeTdCpuid: new Map([...cpuid.tdCpuid].map(([k, v]) => [k, { ...v }])),
    maxPa: cpuid.maxPa,
    hkidStartBit: keys.hkidStartBit,
    privateHkidMin: keys.privateHkidMin,
    privateHkidMax: keys.privateHkidMax,
    numLps: cpu.lps.length,
    numPkgs: cpu.platform.packages,
    pkgShift: cpuid.pkgShift,
    cacheSubBlocks: keys.cacheSubBlocks,
    seamCapabilities: caps,
    seamrr: {
      base: r.msr("IA32_SEAMRR_PHYS_BASE") & ~0xFFFn & addrMask,
      size: seamrrMask === 0n ? 0n : ((~seamrrMask) & addrMask) + 1n,
    },
    cmrs,
    platformFms,
    pkgFms,
    smrr2: smrr.smrr2,
    seamdb: seamdb.ref,
  };
}
