// What TDH.MNG.INIT does to a TD's virtual CPUID once the fixed bits and the TD_PARAMS
// CPUID configuration are in: features whose state XFAM controls are hidden when their XFAM
// bits are off (spec enum TD_CPUID_XFAM_MASK), whole entries are zeroed unless XFAM,
// ATTRIBUTES or the TD's own CPUID(1) allow them (TD_CPUID_ZEROED), and a few values are
// computed from the TD's configuration (PKS, Key Locker, XSAVE size, XFD, linear address width).
import type { Spec } from "../spec/mod.ts";
import { decodeBits, encodeBits } from "../spec/bits.ts";
import { parseHex } from "../spec/hex.ts";
import { tdxLimit, tdxLimitN } from "./td_limits.ts";
import { cpuidKey, leafSubleaf } from "./td_params.ts";

/** What the rules depend on besides the CPUID values. */
export interface TdCpuidDeps {
  xfam: bigint;
  attributes: bigint;
  /** CPUID(0xD,0).EBX the CPU gives with XCR0 = `xcr0`: the XSAVE area those components need. */
  xsaveMaxSize(xcr0: bigint): number;
  /** XSAVE components XFD can fault on (the module's XFD faulting mask); 0 without XFD. */
  xfdFaultingMask: bigint;
}

const REGS = ["EAX", "EBX", "ECX", "EDX"];

/** The cpuidKey of a TD_CPUID_LOOKUP entry, by its name. */
function entryKey(spec: Spec, name: string): string {
  const { leaf, subleaf } = leafSubleaf(spec, spec.enumValue("TD_CPUID_LOOKUP", name));
  return cpuidKey(leaf, subleaf);
}

/** `<entry>.<rest>` split at the first dot (entry names have none). */
function splitName(name: string): [string, string] {
  const dot = name.indexOf(".");
  return [name.slice(0, dot), name.slice(dot + 1)];
}

function field(spec: Spec, bitfield: string, value: number, name: string): bigint {
  return decodeBits(spec.bitfield(bitfield).fields, BigInt(value >>> 0)).fields[name];
}

function setField(spec: Spec, bitfield: string, value: number, name: string, v: bigint): number {
  const layout = spec.bitfield(bitfield).fields;
  const f = decodeBits(layout, BigInt(value >>> 0)).fields;
  return Number(encodeBits(layout, { ...f, [name]: v })) >>> 0;
}

function leafKey(spec: Spec, name: string, subleaf: number): string {
  return cpuidKey(Number(spec.enumValue("CPUID_LEAF", name)), subleaf);
}

/** Clears the bits of features whose XFAM bits are 0. */
function applyXfamMasks(spec: Spec, out: Map<string, number[]>, xfam: bigint): void {
  for (const v of spec.enum("TD_CPUID_XFAM_MASK").values) {
    const [entry, rest] = splitName(v.name);
    const [bit, reg] = rest.replace(/^XFAM_/, "").split(".");
    if (((xfam >> BigInt(bit)) & 1n) === 1n) continue;
    const regs = out.get(entryKey(spec, entry));
    if (!regs) continue;
    const i = REGS.indexOf(reg);
    regs[i] = (regs[i] & ~Number(parseHex(v.value))) >>> 0;
  }
}

/** Zeroes the entries whose condition does not hold; leaf 1 must be final before this. */
function applyZeroed(spec: Spec, out: Map<string, number[]>, d: TdCpuidDeps): void {
  const leaf1Ecx = BigInt(out.get(leafKey(spec, "VERSION_INFO", 0xFFFF_FFFF))?.[2] ?? 0);
  for (const v of spec.enum("TD_CPUID_ZEROED").values) {
    const [entry, kind] = splitName(v.name);
    const need = parseHex(v.value);
    const have = kind === "XFAM"
      ? d.xfam
      : kind === "ATTRIBUTES"
      ? d.attributes
      : kind === "CPUID_1_ECX"
      ? leaf1Ecx
      : kind === "ALWAYS"
      ? -1n
      : undefined;
    if (have === undefined) throw new Error(`TD_CPUID_ZEROED ${v.name}: unknown condition`);
    const allowed = kind !== "ALWAYS" && (have & need) === need;
    const key = entryKey(spec, entry);
    if (!allowed && out.has(key)) out.set(key, [0, 0, 0, 0]);
  }
}

/** The TD's virtual CPUID after the XFAM- and ATTRIBUTES-dependent rules; `cpuid` is unchanged. */
export function applyTdCpuidDeps(
  spec: Spec,
  cpuid: ReadonlyMap<string, readonly number[]>,
  d: TdCpuidDeps,
): Map<string, number[]> {
  const out = new Map([...cpuid].map(([k, v]) => [k, [...v]]));
  applyXfamMasks(spec, out, d.xfam);
  applyZeroed(spec, out, d);

  const leaf7 = out.get(leafKey(spec, "EXT_FEATURES", 0));
  if (leaf7) {
    // PKS follows the TD's ATTRIBUTES, not the CPU; Key Locker is never offered to a TD.
    const pks = decodeBits(spec.bitfield("TD_ATTRIBUTES").fields, d.attributes).fields.PKS;
    leaf7[2] = setField(spec, "CPUID_07_00_ECX", leaf7[2], "PKS", pks);
    leaf7[2] = setField(spec, "CPUID_07_00_ECX", leaf7[2], "KL", 0n);
  }
  const xsave0 = out.get(leafKey(spec, "XSAVE_STATE", 0));
  if (xsave0) {
    // The XSAVE area the TD's user components (XCR0 part of XFAM) need at most.
    xsave0[2] = d.xsaveMaxSize(d.xfam & tdxLimit(spec, "XCR0_USER_BIT_MASK")) >>> 0;
  }
  const xsave1 = out.get(leafKey(spec, "XSAVE_STATE", 1));
  if (xsave1 && (d.xfdFaultingMask & d.xfam) === 0n) {
    // XFD is of no use to a TD none of whose components it can fault on.
    xsave1[0] = setField(spec, "CPUID_0D_01_EAX", xsave1[0], "XFD_SUPPORT", 0n);
  }
  const addr = out.get(leafKey(spec, "ADDRESS_SIZES", 0xFFFF_FFFF));
  if (addr) {
    const la57 = leaf7 !== undefined && field(spec, "CPUID_07_00_ECX", leaf7[2], "LA57") === 1n;
    const width = tdxLimitN(
      spec,
      la57 ? "LA57_LINEAR_ADDRESS_WIDTH" : "LEGACY_LINEAR_ADDRESS_WIDTH",
    );
    addr[0] = setField(spec, "CPUID_80000008_EAX", addr[0], "LA_BITS", BigInt(width));
  }
  return out;
}
