// Struct sizes and field positions read from the spec, for the places where the
// launcher must find a structure inside a larger image before it can decode it.
import type { Spec } from "../spec/mod.ts";

/** The fixed size of a struct, or the minimum size of a variable one. */
export function structSize(spec: Spec, name: string): number {
  const s = spec.struct(name);
  if (typeof s.size === "number") return s.size;
  if (s.min_size === undefined) throw new Error(`struct ${name} has neither a size nor a min_size`);
  return s.min_size;
}

/** Offset and size of a fixed-size field of a struct. */
export function fieldOf(
  spec: Spec,
  struct: string,
  field: string,
): { offset: number; size: number } {
  const f = spec.struct(struct).fields.find((x) => x.name === field);
  if (!f || f.offset === undefined) {
    throw new Error(`struct ${struct} has no placed field ${field}`);
  }
  const size = f.size ?? { u8: 1, u16: 2, u32: 4, u64: 8 }[f.type as string];
  if (size === undefined) throw new Error(`${struct}.${field} has no fixed size`);
  return { offset: f.offset, size };
}

/** A little-endian unsigned integer field of `struct` placed at `base` in `bytes`. */
export function readField(
  spec: Spec,
  bytes: Uint8Array,
  base: number,
  struct: string,
  field: string,
): bigint {
  const { offset, size } = fieldOf(spec, struct, field);
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[base + offset + i]);
  return v;
}

/** Offset of a field, whatever its size (e.g. where a variable array starts). */
export function fieldOffset(spec: Spec, struct: string, field: string): number {
  const f = spec.struct(struct).fields.find((x) => x.name === field);
  if (!f || f.offset === undefined) {
    throw new Error(`struct ${struct} has no placed field ${field}`);
  }
  return f.offset;
}
