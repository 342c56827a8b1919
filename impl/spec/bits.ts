// Decoding and encoding integers by a bitfield item's layout.
import type { BitField } from "./types.ts";

/** Masks of widths 0-128, made once: every leaf decodes registers on its way in. */
const MASKS = Array.from({ length: 129 }, (_, w) => (1n << BigInt(w)) - 1n);

function mask(width: number): bigint {
  return MASKS[width] ?? (1n << BigInt(width)) - 1n;
}

export function extractBits(value: bigint, [lo, hi]: [number, number]): bigint {
  return (value >> BigInt(lo)) & mask(hi - lo + 1);
}

export function insertBits(value: bigint, [lo, hi]: [number, number], field: bigint): bigint {
  const m = mask(hi - lo + 1);
  if (field < 0n || field > m) {
    throw new RangeError(`value 0x${field.toString(16)} does not fit in bits [${lo}, ${hi}]`);
  }
  return (value & ~(m << BigInt(lo))) | (field << BigInt(lo));
}

/** Every named field of `value`; bits no field covers are returned as `undefinedBits`. */
export function decodeBits(
  fields: readonly BitField[],
  value: bigint,
): { fields: Record<string, bigint>; undefinedBits: bigint } {
  const out: Record<string, bigint> = {};
  let covered = 0n;
  for (const f of fields) {
    out[f.name] = extractBits(value, f.bits);
    covered |= mask(f.bits[1] - f.bits[0] + 1) << BigInt(f.bits[0]);
  }
  return { fields: out, undefinedBits: value & ~covered };
}

export function encodeBits(fields: readonly BitField[], values: Record<string, bigint>): bigint {
  let v = 0n;
  for (const [name, fv] of Object.entries(values)) {
    const f = fields.find((x) => x.name === name);
    if (!f) throw new RangeError(`no bit field named ${name}`);
    v = insertBits(v, f.bits, fv);
  }
  return v;
}

/** The fields that must be zero: those marked reserved. */
export function reservedMask(fields: readonly BitField[]): bigint {
  let m = 0n;
  for (const f of fields) {
    if (f.reserved) m |= mask(f.bits[1] - f.bits[0] + 1) << BigInt(f.bits[0]);
  }
  return m;
}
