// TD_PARAMS as TDH.MNG.INIT checks and applies it, in the module's order: ATTRIBUTES,
// XFAM, MAX_VCPUS, NUM_L2_VMS and the TDCS pages it needs, reserved bytes, CONFIG_FLAGS,
// EPTP_CONTROLS, TSC_FREQUENCY, the LP's IA32_TSC_ADJUST, more reserved bytes, the
// CPUID configuration, IA32_ARCH_CAPABILITIES, and the cross-checks. A pure function of
// the decoded struct and what the module knows of the platform, so it can be tested
// without a module. Layouts, masks and limits come from the spec by name.
import type { Spec } from "../spec/mod.ts";
import type { DecodedStruct } from "../spec/codec.ts";
import { decodeBits, encodeBits } from "../spec/bits.ts";
import { requiredTdcsPages, tdxLimit, tdxLimitN } from "./td_limits.ts";
import { applyCpuidFixed, cpuidFixed } from "./cpuid_fixed.ts";
import { applyTdCpuidDeps } from "./td_cpuid_xfam.ts";

export interface CpuidRegs {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}
const REGS = ["eax", "ebx", "ecx", "edx"] as const;

/** The global TD configurability masks (metadata ATTRIBUTES_FIXED0/1, XFAM_*, CONFIG_FLAGS_*). */
export interface TdConfigurability {
  attributesFixed0: bigint;
  attributesFixed1: bigint;
  xfamFixed0: bigint;
  xfamFixed1: bigint;
  configFlagsFixed0: bigint;
  configFlagsFixed1: bigint;
}

/** What TDH.MNG.INIT knows besides TD_PARAMS. */
export interface TdParamsEnv {
  conf: TdConfigurability;
  /** TDCS pages the TD has. */
  numTdcx: number;
  /** The CPU supports a 5-level EPT. */
  pml5Supported: boolean;
  maxPa: number;
  /** Physical address of the TD's Secure EPT root (a TDCS page), put into EPTP. */
  septRoot: bigint;
  /** IA32_TSC_ADJUST on this LP equals what TDH.SYS.INIT sampled. */
  tscAdjustConsistent: boolean;
  /** CPUID as the module keeps it: sampled, with the fixed bits applied at TDH.SYS.CONFIG. */
  nativeCpuid(leaf: number, subleaf: number): CpuidRegs;
  /** The platform's FMS (CPUID(1).EAX with the lowest stepping), as TDH.SYS.INIT found it. */
  platformFms: number;
  /** Native IA32_ARCH_CAPABILITIES as the module sampled it. */
  archCapabilities: bigint;
  /** Native TSC frequency in Hz (CPUID 0x15) and the TSC now, for the TD's virtual TSC. */
  nativeTscFrequency: bigint;
  tsc: bigint;
  /** CPUID(0xD,0).EBX the CPU gives with XCR0 = `xcr0` (the XSAVE area those components need). */
  xsaveMaxSize(xcr0: bigint): number;
  /** XSAVE components XFD can fault on, as TDH.SYS.INIT found them (0 without XFD). */
  xfdFaultingMask: bigint;
}

/** The TD's configuration once TD_PARAMS is accepted. */
export interface TdConfig {
  attributes: bigint;
  xfam: bigint;
  maxVcpus: number;
  numL2Vms: number;
  configFlags: bigint;
  eptp: bigint;
  tscFrequency: number;
  mrconfigid: Uint8Array;
  mrowner: Uint8Array;
  mrownerconfig: Uint8Array;
  /** Virtual CPUID of the configurable leaves by `${leaf}:${subleaf}` (subleaf -1: none). */
  cpuid: Map<string, number[]>;
  ia32ArchCapabilities: bigint;
  /** Virtual TSC = (native TSC x multiplier >> 48) + offset, 0 at TDH.MNG.INIT. */
  tscMultiplier: bigint;
  tscOffset: bigint;
}

export type TdParamsVerdict =
  | { ok: true; config: TdConfig }
  | {
    ok: false;
    status: string;
    /** OPERAND_ID name or, for MSR statuses, the MSR index. */
    detail?: string | bigint;
    /** CPUID leaf (bits 31:0) and sub-leaf (bits 63:32) for a rejected CPUID entry. */
    rcx?: bigint;
  };

function fields(spec: Spec, bitfield: string, value: bigint): Record<string, bigint> {
  return decodeBits(spec.bitfield(bitfield).fields, value).fields;
}

function isZero(b: unknown): boolean {
  return b instanceof Uint8Array && b.every((x) => x === 0);
}

const invalid = (detail: string, rcx?: bigint): TdParamsVerdict => ({
  ok: false,
  status: "TDX_OPERAND_INVALID",
  detail,
  rcx,
});

export function checkAttributes(spec: Spec, conf: TdConfigurability, attributes: bigint): boolean {
  if ((attributes & ~conf.attributesFixed0) !== 0n) return false;
  if ((attributes & conf.attributesFixed1) !== conf.attributesFixed1) return false;
  const a = fields(spec, "TD_ATTRIBUTES", attributes);
  // A migratable TD can be neither debugged nor given the PMU.
  return !(a.MIGRATABLE === 1n && (a.DEBUG === 1n || a.PERFMON === 1n));
}

export function checkXfam(spec: Spec, conf: TdConfigurability, xfam: bigint): boolean {
  if ((xfam & ~conf.xfamFixed0) !== 0n) return false;
  if ((xfam & conf.xfamFixed1) !== conf.xfamFixed1) return false;
  const x = fields(spec, "XFAM", xfam);
  // State components the CPU saves and restores only together.
  if (x.AVX512_OPMASK === 1n && x.AVX === 0n) return false;
  if (x.AVX512_OPMASK !== x.AVX512_ZMM_HI256 || x.AVX512_OPMASK !== x.AVX512_HI16_ZMM) return false;
  if (x.CET_U !== x.CET_S) return false;
  return x.AMX_TILECFG === x.AMX_TILEDATA;
}

/** EPTP_CONTROLS and GPAW; the EPTP with the SEPT root inserted, or undefined when invalid. */
export function checkEptpControls(
  spec: Spec,
  env: Pick<TdParamsEnv, "pml5Supported" | "maxPa" | "septRoot">,
  controls: bigint,
  gpaw: boolean,
): bigint | undefined {
  const layout = spec.bitfield("EPTP_CONTROLS").fields;
  const e = decodeBits(layout, controls).fields;
  const pml4 = spec.enumValue("SEPT_LEVEL", "PML4");
  const pml5 = spec.enumValue("SEPT_LEVEL", "PML5");
  const maxPwl = env.pml5Supported ? pml5 : pml4;
  if (e.EPT_PS_MT !== spec.enumValue("ept_memory_type", "WB")) return undefined;
  if (e.EPT_PWL < pml4 || e.EPT_PWL > maxPwl) return undefined;
  if (e.ENABLE_AD_BITS !== 0n || e.ENABLE_SSS_CONTROL !== 0n) return undefined;
  if (e.RESERVED_0 !== 0n || e.BASE_PA !== 0n || e.RESERVED_1 !== 0n) return undefined;
  if (e.EPT_PWL === pml5 && BigInt(env.maxPa) < tdxLimit(spec, "MIN_PA_FOR_PML5")) return undefined;
  // A shared bit at GPA bit 51 needs a 5-level walk.
  if (gpaw && e.EPT_PWL < pml5) return undefined;
  return encodeBits(layout, { ...e, BASE_PA: env.septRoot >> 12n });
}

interface CpuidEntry {
  leaf: number;
  subleaf: number;
  raw: bigint;
  direct: CpuidRegs;
  allow: CpuidRegs;
}

/** The module's table of configurable CPUID leaves (spec enum CPUID_CONFIGURABLE), in order. */
export function cpuidConfigurable(spec: Spec): CpuidEntry[] {
  const values = spec.enum("CPUID_CONFIGURABLE").values;
  const get = (name: string) => {
    const v = values.find((x) => x.name === name);
    return v ? Number(BigInt(v.value)) : 0;
  };
  const out: CpuidEntry[] = [];
  for (let i = 0; values.some((v) => v.name === `CONFIG_${i}.LEAF_SUBLEAF`); i++) {
    const raw = spec.enumValue("CPUID_CONFIGURABLE", `CONFIG_${i}.LEAF_SUBLEAF`);
    const regs = (kind: string) =>
      Object.fromEntries(
        REGS.map((r) => [r, get(`CONFIG_${i}.${kind}.${r.toUpperCase()}`)]),
      ) as unknown as CpuidRegs;
    out.push({
      ...leafSubleaf(spec, raw),
      raw,
      direct: regs("CONFIG_DIRECT"),
      allow: regs("ALLOW_DIRECT"),
    });
  }
  return out;
}

/** A CPUID_LEAF_SUBLEAF value (TD_CPUID_LOOKUP, CPUID_CONFIGURABLE) as its two halves. */
export function leafSubleaf(spec: Spec, raw: bigint): { leaf: number; subleaf: number } {
  const f = decodeBits(spec.bitfield("CPUID_LEAF_SUBLEAF").fields, raw).fields;
  return { leaf: Number(f.LEAF), subleaf: Number(f.SUBLEAF) };
}

/** The CPUID_LEAF_SUBLEAF value of a leaf and sub-leaf. */
export function leafSubleafValue(spec: Spec, leaf: number, subleaf: number): bigint {
  return encodeBits(spec.bitfield("CPUID_LEAF_SUBLEAF").fields, {
    LEAF: BigInt(leaf >>> 0),
    SUBLEAF: BigInt(subleaf >>> 0),
  });
}

export function cpuidKey(leaf: number, subleaf: number): string {
  return `${leaf >>> 0}:${subleaf === 0xFFFF_FFFF ? -1 : subleaf}`;
}

function cpuidLeafNo(spec: Spec, name: string): number {
  return Number(spec.enumValue("CPUID_LEAF", name));
}

/** FMS a migratable TD may claim: the platform's family and model, no newer stepping. */
function fmsAllowed(spec: Spec, fms: number, platform: number): boolean {
  const a = fields(spec, "CPUID_01_EAX", BigInt(fms));
  const p = fields(spec, "CPUID_01_EAX", BigInt(platform));
  const same = ["MODEL", "FAMILY", "EXTENDED_MODEL_ID", "EXTENDED_FAMILY_ID"]
    .every((f) => a[f] === p[f]);
  return same && a.STEPPING_ID <= p.STEPPING_ID;
}

/** The CPUID configuration: the virtual values, or the verdict that rejects it. */
function applyCpuid(
  spec: Spec,
  env: TdParamsEnv,
  input: DecodedStruct[],
  attributes: bigint,
  xfam: bigint,
): TdParamsVerdict | Map<string, number[]> {
  const migratable = fields(spec, "TD_ATTRIBUTES", attributes).MIGRATABLE === 1n;
  const out = new Map<string, number[]>();
  // Every leaf the module virtualises starts as the native value; the configurable
  // ones are then set from TD_PARAMS below.
  for (const v of spec.enum("TD_CPUID_LOOKUP").values) {
    const raw = BigInt(v.value);
    const { leaf, subleaf } = leafSubleaf(spec, raw);
    const n = env.nativeCpuid(leaf, subleaf === 0xFFFF_FFFF ? 0 : subleaf);
    out.set(cpuidKey(leaf, subleaf), REGS.map((r) => n[r] >>> 0));
  }
  const table = cpuidConfigurable(spec);
  for (let i = 0; i < table.length; i++) {
    const e = table[i];
    const want = input[i] as unknown as CpuidRegs;
    const sampled = env.nativeCpuid(e.leaf, e.subleaf === 0xFFFF_FFFF ? 0 : e.subleaf);
    // The module fixes a configurable entry's bits again before applying TD_PARAMS.
    const fixed = cpuidFixed(spec, e.leaf, e.subleaf);
    const native = fixed ? applyCpuidFixed(sampled, fixed) : sampled;
    const final: number[] = [];
    for (const r of REGS) {
      const allowed = (e.direct[r] | e.allow[r]) >>> 0;
      if (((want[r] >>> 0) & ~allowed) !== 0) return invalid("CPUID_CONFIG", e.raw);
      let v = native[r] >>> 0;
      v = ((v & ~e.direct[r]) | (want[r] & e.direct[r])) >>> 0;
      v = (v & (want[r] | ~e.allow[r])) >>> 0;
      final.push(v);
    }
    if (e.leaf === cpuidLeafNo(spec, "VERSION_INFO")) {
      const platformFms = env.platformFms >>> 0;
      if (final[0] === 0) final[0] = platformFms;
      const ok = migratable ? fmsAllowed(spec, final[0], platformFms) : final[0] === platformFms;
      if (!ok) return invalid("CPUID_CONFIG", e.raw);
    }
    if (e.leaf === cpuidLeafNo(spec, "EXT_FEATURES") && e.subleaf === 0) {
      const ebx = fields(spec, "CPUID_07_00_EBX", BigInt(final[1]));
      // Both TSX enumerations must agree; no leaf/sub-leaf is reported for this one.
      if (ebx.HLE !== ebx.RTM) return invalid("CPUID_CONFIG");
      const tsxCtrl = fields(spec, "IA32_ARCH_CAPABILITIES", env.archCapabilities).TSX_CTRL;
      if (ebx.HLE === 1n && tsxCtrl !== 1n) {
        return {
          ok: false,
          status: "TDX_INCORRECT_MSR_VALUE",
          detail: spec.enumValue("MSR_INDEX", "IA32_ARCH_CAPABILITIES"),
        };
      }
    }
    out.set(cpuidKey(e.leaf, e.subleaf), final);
  }
  // Then what XFAM and ATTRIBUTES allow. The masks leave HLE/RTM alone, so checking TSX
  // above, before them, gives the module's verdicts.
  return applyTdCpuidDeps(spec, out, {
    xfam,
    attributes,
    xsaveMaxSize: (xcr0) => env.xsaveMaxSize(xcr0),
    xfdFaultingMask: env.xfdFaultingMask,
  });
}

/** The virtual IA32_ARCH_CAPABILITIES, or undefined when the configuration is not allowed. */
function archCapabilities(
  spec: Spec,
  env: TdParamsEnv,
  enabled: boolean,
  config: bigint,
  tsx: boolean,
): bigint | undefined {
  if (!enabled && config !== 0n) return undefined;
  const mask = tdxLimit(spec, "IA32_ARCH_CAPABILITIES_CONFIG_MASK");
  if ((config & ~mask) !== 0n) return undefined;
  const layout = spec.bitfield("IA32_ARCH_CAPABILITIES").fields;
  const c = decodeBits(layout, config).fields;
  const v = decodeBits(layout, env.archCapabilities).fields;
  // Allow-direct bits are the native value only if the host asks for them; RRSBA is
  // forced to 1 when asked; TSX_CTRL exists only with TSX; the rest are fixed to 0.
  for (const f of ["SSB_NO", "BHI_NO", "PBRSB_NO"]) if (c[f] === 0n) v[f] = 0n;
  if (c.RRSBA === 1n) v.RRSBA = 1n;
  if (!tsx) v.TSX_CTRL = 0n;
  for (
    const f of [
      "MCU_CONTROL",
      "MISC_PACKAGE_CTLS",
      "ENERGY_FILTERING_CTL",
      "FB_CLEAR",
      "FB_CLEAR_CTRL",
      "XAPIC_DISABLE_STATUS",
      "OVERCLOCKING_STATUS",
    ]
  ) v[f] = 0n;
  for (const f of layout) if (f.reserved) v[f.name] = 0n;
  return encodeBits(layout, v);
}

const U64 = 0xFFFF_FFFF_FFFF_FFFFn;
/** Fraction bits of the TSC multiplier. */
const TSC_FRACTION = 48n;

/** The TD's TSC multiplier and offset: `tsc` native reads as virtual 0. */
export function tscVirtualization(
  spec: Spec,
  virtFrequency: number,
  nativeFrequency: bigint,
  tsc: bigint,
): { multiplier: bigint; offset: bigint } {
  const hz = BigInt(virtFrequency) * tdxLimit(spec, "VIRT_TSC_FREQUENCY_UNIT");
  const multiplier = ((hz << TSC_FRACTION) / nativeFrequency) & U64;
  const scaled = ((tsc * multiplier) >> TSC_FRACTION) & U64;
  return { multiplier, offset: -scaled & U64 };
}

/** Checks TD_PARAMS (decoded by the codec) in the module's order. */
export function evaluateTdParams(
  spec: Spec,
  p: DecodedStruct,
  env: TdParamsEnv,
): TdParamsVerdict {
  const attributes = p.attributes as bigint;
  if (!checkAttributes(spec, env.conf, attributes)) return invalid("ATTRIBUTES");
  const xfam = p.xfam as bigint;
  if (!checkXfam(spec, env.conf, xfam)) return invalid("XFAM");
  const maxVcpus = p.max_vcpus as number;
  if (maxVcpus === 0) return invalid("MAX_VCPUS");
  const numL2Vms = p.num_l2_vms as number;
  if (numL2Vms > tdxLimitN(spec, "MAX_L2_VMS")) return invalid("NUM_L2_VMS");
  if (env.numTdcx < requiredTdcsPages(spec, numL2Vms)) {
    return { ok: false, status: "TDX_TDCS_NOT_ALLOCATED" };
  }
  if (!isZero(p.reserved_0)) return invalid("RDX");

  const configFlags = p.config_flags as bigint;
  const conf = env.conf;
  if (
    (configFlags & ~conf.configFlagsFixed0) !== 0n ||
    (configFlags & conf.configFlagsFixed1) !== conf.configFlagsFixed1
  ) return invalid("EXEC_CONTROLS");
  const gpaw = fields(spec, "CONFIG_FLAGS", configFlags).GPAW === 1n;
  const eptp = checkEptpControls(spec, env, p.eptp_controls as bigint, gpaw);
  if (eptp === undefined) return invalid("EPTP_CONTROLS");

  const tsc = p.tsc_frequency as number;
  const virtTsc = () => tscVirtualization(spec, tsc, env.nativeTscFrequency, env.tsc);
  if (
    tsc < tdxLimitN(spec, "VIRT_TSC_FREQUENCY_MIN") ||
    tsc > tdxLimitN(spec, "VIRT_TSC_FREQUENCY_MAX")
  ) {
    return invalid("TSC_FREQUENCY");
  }
  if (!env.tscAdjustConsistent) {
    return {
      ok: false,
      status: "TDX_INCONSISTENT_MSR",
      detail: spec.enumValue("MSR_INDEX", "IA32_TSC_ADJUST"),
    };
  }
  if (!isZero(p.reserved_1)) return invalid("RDX");
  const msrCtls = fields(spec, "MSR_CONFIG_CTLS", BigInt(p.msr_config_ctls as number));
  if (msrCtls.RESERVED !== 0n) return invalid("RDX");
  if (!isZero(p.reserved_2)) return invalid("RDX");

  const cpuid = applyCpuid(
    spec,
    env,
    p.cpuid_config_vals as DecodedStruct[],
    attributes,
    xfam,
  );
  if (!(cpuid instanceof Map)) return cpuid;
  // CPUID(0x15) tells the TD its TSC frequency: a 25 MHz crystal times TSC_FREQUENCY.
  const tscLeaf = cpuidKey(cpuidLeafNo(spec, "TSC_CRYSTAL"), 0xFFFF_FFFF);
  if (cpuid.has(tscLeaf)) {
    cpuid.set(tscLeaf, [1, tsc, Number(tdxLimit(spec, "VIRT_TSC_FREQUENCY_UNIT")), 0]);
  }
  if (!isZero(p.reserved_3)) return invalid("RDX");

  const leaf7 = cpuid.get(cpuidKey(cpuidLeafNo(spec, "EXT_FEATURES"), 0));
  const tsx = leaf7 !== undefined && fields(spec, "CPUID_07_00_EBX", BigInt(leaf7[1])).HLE === 1n;
  const arch = archCapabilities(
    spec,
    env,
    msrCtls.IA32_ARCH_CAP === 1n,
    p.ia32_arch_capabilities_config as bigint,
    tsx,
  );
  if (arch === undefined) return invalid("IA32_ARCH_CAPABILITIES_CONFIG");
  // A partitioned TD (with L2 VMs) cannot be migrated.
  if (fields(spec, "TD_ATTRIBUTES", attributes).MIGRATABLE === 1n && numL2Vms > 0) {
    return invalid("RDX");
  }
  return {
    ok: true,
    config: {
      attributes,
      xfam,
      maxVcpus,
      numL2Vms,
      configFlags,
      eptp,
      tscFrequency: tsc,
      mrconfigid: (p.mr_config_id as Uint8Array).slice(),
      mrowner: (p.mr_owner as Uint8Array).slice(),
      mrownerconfig: (p.mr_owner_config as Uint8Array).slice(),
      cpuid,
      ia32ArchCapabilities: arch,
      tscMultiplier: virtTsc().multiplier,
      tscOffset: virtTsc().offset,
    },
  };
}
