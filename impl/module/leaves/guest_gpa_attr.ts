// GPA_ATTR values of the guest's page-attribute leaves: four 16-bit per-VM attribute
// words in one register (VM 0 is the L1 TD), each laid out as GPA_ATTR_SINGLE_VM.
import type { Spec } from "../../spec/mod.ts";
import { decodeBits, encodeBits } from "../../spec/bits.ts";

export const MAX_VMS = 4;
const WORD = 16n;
const WORD_MASK = 0xFFFFn;

export function vmWord(value: bigint, vm: number): bigint {
  return (value >> (WORD * BigInt(vm))) & WORD_MASK;
}

export function joinWords(words: bigint[]): bigint {
  return words.reduce((acc, w, vm) => acc | ((w & WORD_MASK) << (WORD * BigInt(vm))), 0n);
}

function attr(spec: Spec, v: bigint) {
  return decodeBits(spec.bitfield("GPA_ATTR_SINGLE_VM").fields, v).fields;
}

/** The value grants some access (R, W, XS or XU). */
export function attrPresent(spec: Spec, v: bigint): boolean {
  const a = attr(spec, v);
  return (a.r | a.w | a.xs | a.xu) !== 0n;
}

/** A combination the module accepts: VALID with anything set, no reserved bits, W and PWA need R, no SVE. */
export function attrLegal(spec: Spec, v: bigint): boolean {
  const a = attr(spec, v);
  if (a.valid === 0n && v !== 0n) return false;
  if (a.reserved_14_8 !== 0n || a.sve !== 0n) return false;
  return !((a.w === 1n || a.pwa === 1n) && a.r === 0n);
}

export function attrValid(spec: Spec, v: bigint): boolean {
  return attr(spec, v).valid === 1n;
}

export function withValid(spec: Spec, v: bigint): bigint {
  return v | encodeBits(spec.bitfield("GPA_ATTR_SINGLE_VM").fields, { valid: 1n });
}

/** An L2 alias's attributes as the guest sees them: W is withheld while L1 is BLOCKEDW. */
export function l2Attributes(spec: Spec, stored: bigint, l1BlockedW: boolean): bigint {
  if (!l1BlockedW) return stored;
  return stored & ~encodeBits(spec.bitfield("GPA_ATTR_SINGLE_VM").fields, { w: 1n });
}
