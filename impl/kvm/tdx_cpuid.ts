// CPUID entries of KVM's TDX code: the configurable leaves the module enumerates, as
// KVM reports them (KVM_TDX_CAPABILITIES) and matches them (KVM_TDX_INIT_VM).
import type { Spec } from "../spec/mod.ts";
import { decodeBits, encodeBits, insertBits } from "../spec/bits.ts";
import type { DecodedStruct } from "../spec/codec.ts";
import { tdxValue } from "./ioctl_number.ts";
import type { TdxSysInfo } from "./tdx_sysinfo.ts";

export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

const U32 = 0xFFFF_FFFFn;

export function leafNumber(spec: Spec, name: string): number {
  return Number(spec.enumValue("CPUID_LEAF", name));
}

function field(spec: Spec, bitfield: string, name: string): [number, number] {
  return spec.bitfield(bitfield).fields.find((f) => f.name === name)!.bits;
}

/** The guest physical address width KVM reads from leaf 0x80000008 EAX[23:16]. */
export function guestPaBits(spec: Spec, eax: number): number {
  return Number(
    decodeBits(spec.bitfield("CPUID_80000008_EAX").fields, BigInt(eax)).fields.GUEST_PA_BITS,
  );
}

export function withGuestPaBits(spec: Spec, eax: number, bits: number): number {
  return Number(
    insertBits(BigInt(eax), field(spec, "CPUID_80000008_EAX", "GUEST_PA_BITS"), BigInt(bits)),
  );
}

function tsxMask(spec: Spec): bigint {
  return encodeBits(spec.bitfield("CPUID_07_00_EBX").fields, { HLE: 1n, RTM: 1n });
}

function waitpkgMask(spec: Spec): bigint {
  return encodeBits(spec.bitfield("CPUID_07_00_ECX").fields, { WAITPKG: 1n });
}

function isLeaf7Sub0(spec: Spec, e: CpuidEntry): boolean {
  return e.function === leafNumber(spec, "EXT_FEATURES") && e.index === 0;
}

/** has_tsx / has_waitpkg: features a TD may not be given. */
export function hasUnsupportedCpuid(spec: Spec, e: CpuidEntry): boolean {
  return isLeaf7Sub0(spec, e) &&
    ((BigInt(e.ebx) & tsxMask(spec)) !== 0n || (BigInt(e.ecx) & waitpkgMask(spec)) !== 0n);
}

/** td_init_cpuid_entry2: configurable entry `i` as KVM presents it. */
export function configEntry(spec: Spec, info: TdxSysInfo, i: number): CpuidEntry {
  const leaves = info.cpuidConfigLeaves[i];
  const [ebxEax, edxEcx] = info.cpuidConfigValues[i];
  const sub = Number(leaves >> 32n);
  const e: CpuidEntry = {
    function: Number(leaves & U32),
    index: sub === 0xFFFF_FFFF ? 0 : sub,
    flags: 0,
    eax: Number(ebxEax & U32),
    ebx: Number(ebxEax >> 32n),
    ecx: Number(edxEcx & U32),
    edx: Number(edxEcx >> 32n),
  };
  // KVM offers the GPAW through this leaf's guest-PA-bits field, so it reports it configurable.
  if (e.function === leafNumber(spec, "ADDRESS_SIZES")) e.eax = withGuestPaBits(spec, e.eax, 0xFF);
  if (isLeaf7Sub0(spec, e)) {
    e.ebx = Number(BigInt(e.ebx) & ~tsxMask(spec));
    e.ecx = Number(BigInt(e.ecx) & ~waitpkgMask(spec));
  }
  return e;
}

/** kvm_find_cpuid_entry2: by leaf, and by sub-leaf only where the entry says it matters. */
export function findEntry(
  spec: Spec,
  entries: CpuidEntry[],
  fn: number,
  index: number,
): CpuidEntry | undefined {
  const significant = Number(tdxValue(spec, "KVM_SET_CPUID2", "KVM_CPUID_FLAG_SIGNIFCANT_INDEX"));
  return entries.find((e) => e.function === fn && (!(e.flags & significant) || e.index === index));
}

export function entryFromStruct(v: DecodedStruct): CpuidEntry {
  return {
    function: v.function as number,
    index: v.index as number,
    flags: v.flags as number,
    eax: v.eax as number,
    ebx: v.ebx as number,
    ecx: v.ecx as number,
    edx: v.edx as number,
  };
}

export function entryToStruct(e: CpuidEntry): DecodedStruct {
  return { ...e };
}
