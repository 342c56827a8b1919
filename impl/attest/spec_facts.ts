// Small questions the attestation code asks the spec: a field's size or offset, the
// name an enum gives a value.
import type { Spec } from "../spec/mod.ts";
import { fixedFieldSize } from "../spec/layout.ts";
import { parseHex } from "../spec/hex.ts";

function field(spec: Spec, struct: string, name: string) {
  const f = spec.struct(struct).fields.find((x) => x.name === name);
  if (!f) throw new Error(`struct ${struct} has no field ${name}`);
  return f;
}

/** The fixed size in bytes of a field. */
export function fieldSize(spec: Spec, struct: string, name: string): number {
  const size = fixedFieldSize(field(spec, struct, name), (n) => spec.structs.get(n));
  if (size === undefined) throw new Error(`${struct}.${name} has no fixed size`);
  return size;
}

/** The offset of a placed field. */
export function fieldOffset(spec: Spec, struct: string, name: string): number {
  const f = field(spec, struct, name);
  if (f.offset === undefined) throw new Error(`${struct}.${name} has no fixed offset`);
  return f.offset;
}

/** The fixed size of a struct, or its minimum size when it is variable. */
export function structSize(spec: Spec, name: string): number {
  const s = spec.struct(name);
  if (typeof s.size === "number") return s.size;
  if (s.min_size === undefined) throw new Error(`struct ${name} has no size`);
  return s.min_size;
}

/** The name an enum gives `value`, or undefined. */
export function enumName(spec: Spec, enumName: string, value: number | bigint): string | undefined {
  const v = BigInt(value);
  return spec.enum(enumName).values.find((x) => parseHex(x.value) === v)?.name;
}

/** An enum value as a number (the enums used here are at most 32 bits wide). */
export function enumNumber(spec: Spec, enumName: string, valueName: string): number {
  return Number(spec.enumValue(enumName, valueName));
}
