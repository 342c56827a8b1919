// The CPU's XSAVE state components as the module learns them from CPUID leaf 0xD: sub-leaf
// n >= 2 gives component n's size (EAX), standard-format offset (EBX) and attributes (ECX).
// TDH.MNG.INIT needs the XSAVE area size for a TD's XFAM and the components XFD can fault on.
import type { Spec } from "../spec/mod.ts";
import type { CpuidValues } from "../cpu/cpuid.ts";
import { decodeBits } from "../spec/bits.ts";
import { tdxLimitN } from "./td_limits.ts";
import { leafSubleaf } from "./td_params.ts";

type Cpuid = (leaf: number, subleaf: number) => CpuidValues;

const xsaveLeaf = (spec: Spec) => Number(spec.enumValue("CPUID_LEAF", "XSAVE_STATE"));

/** Component numbers the module samples: the leaf 0xD sub-leaves >= 2 of TD_CPUID_LOOKUP. */
export function xsaveComponentNumbers(spec: Spec): number[] {
  const leaf = xsaveLeaf(spec);
  return spec.enum("TD_CPUID_LOOKUP").values
    .map((v) => leafSubleaf(spec, BigInt(v.value)))
    .filter((e) => e.leaf === leaf && e.subleaf >= 2)
    .map((e) => e.subleaf);
}

/**
 * CPUID(0xD,0).EBX as the CPU gives it with XCR0 = `xcr0`: the standard-format area up to
 * the end of the last enabled component, never less than the legacy region and header.
 */
export function xsaveMaxSize(spec: Spec, xcr0: bigint, cpuid: Cpuid): number {
  let size = tdxLimitN(spec, "XSAVE_EXTENDED_REGION_OFFSET");
  for (const n of xsaveComponentNumbers(spec)) {
    if (((xcr0 >> BigInt(n)) & 1n) === 0n) continue;
    const c = cpuid(xsaveLeaf(spec), n);
    size = Math.max(size, (c.ebx >>> 0) + (c.eax >>> 0));
  }
  return size;
}

/** Components XFD can make fault on first use; none when the CPU lacks XFD. */
export function xfdFaultingMask(spec: Spec, cpuid: Cpuid): bigint {
  const leaf = xsaveLeaf(spec);
  const eax1 = BigInt(cpuid(leaf, 1).eax >>> 0);
  if (decodeBits(spec.bitfield("CPUID_0D_01_EAX").fields, eax1).fields.XFD_SUPPORT !== 1n) {
    return 0n;
  }
  let mask = 0n;
  for (const n of xsaveComponentNumbers(spec)) {
    const ecx = BigInt(cpuid(leaf, n).ecx >>> 0);
    const faulting = decodeBits(spec.bitfield("CPUID_0D_ECX").fields, ecx).fields.XFD_FAULTING;
    if (faulting === 1n) mask |= 1n << BigInt(n);
  }
  return mask;
}
