// Sizes of struct fields as the spec declares them, shared by the linter and the codec.
import type { StructField, StructItem } from "./types.ts";

export const INT_SIZES: Record<string, number> = { u8: 1, u16: 2, u32: 4, u64: 8 };

/** The fixed size of a struct, or undefined when it is variable or a CBOR map. */
export function fixedStructSize(s: StructItem): number | undefined {
  return typeof s.size === "number" && s.encoding !== "cbor" ? s.size : undefined;
}

/**
 * The fixed byte size of a field, or undefined when it depends on the data
 * (size_from, count_from, rest, or a nested variable struct without size).
 */
export function fixedFieldSize(
  f: StructField,
  structOf: (name: string) => StructItem | undefined,
): number | undefined {
  if (f.size_from || f.count_from || f.rest) return undefined;
  if (f.size !== undefined) return f.size;
  if (f.type in INT_SIZES) return INT_SIZES[f.type];
  if (f.type === "struct" && f.struct) {
    const s = structOf(f.struct);
    return s ? fixedStructSize(s) : undefined;
  }
  if (f.type === "array" && f.count !== undefined) {
    const el = f.element === "struct"
      ? (f.struct ? fixedStructSize(structOf(f.struct) ?? ({} as StructItem)) : undefined)
      : f.element
      ? INT_SIZES[f.element]
      : undefined;
    return el === undefined ? undefined : el * f.count;
  }
  return undefined;
}

export function elementSize(
  f: StructField,
  structOf: (name: string) => StructItem | undefined,
): number | undefined {
  if (f.element === "struct") {
    const s = f.struct ? structOf(f.struct) : undefined;
    return s ? fixedStructSize(s) : undefined;
  }
  return f.element ? INT_SIZES[f.element] : undefined;
}
