// What a TD may be configured with on this platform: the module's fixed ATTRIBUTES,
// XFAM and CONFIG_FLAGS masks (spec enum TDX_MODULE_LIMITS) narrowed by the CPU (XSAVE
// components it enumerates, MAX_PA), as the global metadata ATTRIBUTES_FIXED0/1,
// XFAM_FIXED0/1 and CONFIG_FLAGS_FIXED0/1 report them; and the platform facts
// TDH.MNG.INIT checks TD_PARAMS against. The CPU's facts are those TDH.SYS.INIT sampled.
import type { Spec } from "../spec/mod.ts";
import { decodeBits, encodeBits } from "../spec/bits.ts";
import type { Cpu } from "../cpu/cpu.ts";
import type { LeafContext } from "./leaf_context.ts";
import type { ModuleState, TdState } from "./state.ts";
import type { TdConfigurability, TdParamsEnv } from "./td_params.ts";
import { tdxLimit } from "./td_limits.ts";
import { xfdFaultingMask, xsaveMaxSize } from "./xsave_components.ts";
import { nativeTscHz, rawCpuid, sampledCpuid, type SampledPlatform } from "./platform_sample.ts";

/**
 * XCR0 and IA32_XSS components the CPU supports that the module recognises, from the
 * CPUID TDH.SYS.INIT sampled (live CPUID only before it). The module keeps these in globals
 * of their own, so the raw sample, not the fixed CPUID values.
 */
export function xsaveSupport(
  spec: Spec,
  cpu: Cpu,
  lpId: number,
  sampled?: SampledPlatform,
): bigint {
  const leaf = Number(spec.enumValue("CPUID_LEAF", "XSAVE_STATE"));
  const read = (subleaf: number) => rawCpuid(cpu, sampled, lpId, leaf, subleaf);
  const user = BigInt(read(0).eax >>> 0) & tdxLimit(spec, "XCR0_USER_BIT_MASK");
  const sup = BigInt(read(1).ecx >>> 0) & tdxLimit(spec, "XCR0_SUPERVISOR_BIT_MASK");
  return user | sup;
}

export function tdConfigurability(
  spec: Spec,
  cpu: Cpu,
  state: ModuleState,
  lpId: number,
): TdConfigurability {
  const maxPa = state.platform.sampled?.maxPa ?? cpu.platform.maxPa;
  const layout = spec.bitfield("CONFIG_FLAGS").fields;
  const fixed1 = decodeBits(layout, tdxLimit(spec, "CONFIG_FLAGS_FIXED1")).fields;
  // Without more than 48 bits of physical address a TD cannot be told to use GPAW 52.
  if (maxPa <= 48) fixed1.GPAW = 0n;
  return {
    attributesFixed0: tdxLimit(spec, "TDX_ATTRIBUTES_FIXED0"),
    attributesFixed1: tdxLimit(spec, "TDX_ATTRIBUTES_FIXED1"),
    xfamFixed0: tdxLimit(spec, "TDX_XFAM_FIXED0") &
      xsaveSupport(spec, cpu, lpId, state.platform.sampled),
    xfamFixed1: tdxLimit(spec, "TDX_XFAM_FIXED1"),
    configFlagsFixed0: tdxLimit(spec, "CONFIG_FLAGS_FIXED0"),
    configFlagsFixed1: encodeBits(layout, fixed1),
  };
}

/** The platform as TDH.MNG.INIT sees it for `td`, on the calling LP. */
export function tdParamsEnv(ctx: LeafContext, td: TdState): TdParamsEnv {
  const { spec, cpu, state } = ctx;
  const lp = ctx.lp.id;
  const sampled = state.platform.sampled;
  const sampledMsr = (name: string) =>
    sampled?.msrs.get(cpu.msrs.index(name)) ?? cpu.rdmsrNamed(lp, name) ?? 0n;
  const rootIndex = Number(tdxLimit(spec, "SEPT_ROOT_PAGE_INDEX"));
  const raw = (leaf: number, subleaf: number) => rawCpuid(cpu, sampled, lp, leaf, subleaf);
  return {
    conf: tdConfigurability(spec, cpu, state, lp),
    numTdcx: td.tdcx.length,
    // The CPU model has 5-level EPT; MAX_PA decides whether a TD may use it.
    pml5Supported: true,
    maxPa: sampled?.maxPa ?? cpu.platform.maxPa,
    septRoot: td.tdcx[rootIndex] ?? 0n,
    tscAdjustConsistent: (cpu.rdmsrNamed(lp, "IA32_TSC_ADJUST") ?? 0n) ===
      sampledMsr("IA32_TSC_ADJUST"),
    // The values TDH.SYS.INIT sampled (CPUID(1).EAX as the platform's FMS) with the fixed
    // bits TDH.SYS.CONFIG applied, not the LP's now.
    nativeCpuid: (leaf, subleaf) =>
      (sampled && sampledCpuid(sampled, leaf, subleaf)) ?? cpu.cpuidOn(lp, leaf, subleaf),
    platformFms: sampled?.platformFms ??
      cpu.cpuidOn(lp, Number(spec.enumValue("CPUID_LEAF", "VERSION_INFO")), 0).eax,
    archCapabilities: sampledMsr("IA32_ARCH_CAPABILITIES"),
    nativeTscFrequency: nativeTscFrequency(ctx),
    tsc: cpu.rdmsrNamed(lp, "IA32_TIME_STAMP_COUNTER") ?? 0n,
    // XSAVE facts come from the raw sample: the fixed bits describe the TD, not the CPU.
    xsaveMaxSize: (xcr0) => xsaveMaxSize(spec, xcr0, raw),
    xfdFaultingMask: xfdFaultingMask(spec, raw),
  };
}

/** The CPU's TSC frequency in Hz, from the CPUID TDH.SYS.INIT sampled. */
export function nativeTscFrequency(ctx: LeafContext): bigint {
  return nativeTscHz(ctx.spec, ctx.cpu, ctx.state.platform.sampled, ctx.lp.id);
}
