// The language-neutral value encoding vectors use for decoded fields: integers as
// "0x" upper-case hex, bytes as "hex:" lower-case hex, ASCII text as "str:".
// Nested structs and arrays flatten to dotted paths ("report_mac_struct.report_data",
// "cpuid_config.3.leaf").
import type { DecodedStruct, StructLookup, Value } from "../impl/spec/codec.ts";
import { INT_SIZES } from "../impl/spec/layout.ts";
import { bytesToHex, hexToBytes } from "../impl/spec/hex.ts";

export function formatValue(v: Value): string {
  if (typeof v === "number" || typeof v === "bigint") {
    return `0x${BigInt(v).toString(16).toUpperCase()}`;
  }
  if (typeof v === "string") return `str:${v}`;
  if (v instanceof Uint8Array) return `hex:${bytesToHex(v)}`;
  throw new TypeError("not a scalar value");
}

export function flatten(
  value: DecodedStruct,
  prefix = "",
  out: Record<string, string> = {},
): Record<string, string> {
  for (const [k, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        if (
          typeof x === "object" && x !== null && !(x instanceof Uint8Array) && !Array.isArray(x)
        ) {
          flatten(x as DecodedStruct, `${path}.${i}`, out);
        } else out[`${path}.${i}`] = formatValue(x as Value);
      });
    } else if (typeof v === "object" && v !== null && !(v instanceof Uint8Array)) {
      flatten(v as DecodedStruct, path, out);
    } else out[path] = formatValue(v);
  }
  return out;
}

export function parseValue(text: string): number | bigint | string | Uint8Array {
  if (text.startsWith("0x")) return BigInt(text);
  if (text.startsWith("hex:")) return hexToBytes(text.slice(4));
  if (text.startsWith("str:")) return text.slice(4);
  throw new RangeError(`not a vector value: ${text.slice(0, 40)}`);
}

/**
 * Rebuilds a struct value from flattened paths by walking the spec's layout of
 * `structName`; a field missing from `flat` is an error naming its path.
 */
export function unflatten(
  lookup: StructLookup,
  structName: string,
  flat: Record<string, string>,
  prefix = "",
): DecodedStruct {
  const s = lookup.struct(structName);
  const out: DecodedStruct = {};
  const seen = new Set<string>();
  let reservedIndex = 0;
  const get = (path: string) => {
    const text = flat[path];
    if (text === undefined) throw new RangeError(`missing field ${path}`);
    return parseValue(text);
  };
  const scalar = (type: string, path: string): Value => {
    const v = get(path);
    if (type === "u64") return BigInt(v as bigint);
    if (type in INT_SIZES) return Number(v as bigint);
    return v as Value;
  };
  for (const f of s.fields) {
    const key = f.type === "reserved" && seen.has(f.name) ? `${f.name}_${++reservedIndex}` : f.name;
    seen.add(f.name);
    const path = prefix ? `${prefix}.${key}` : key;
    if (f.type === "struct") out[key] = unflatten(lookup, f.struct!, flat, path);
    else if (f.type === "array") {
      const items: Value[] = [];
      for (let i = 0;; i++) {
        const p = `${path}.${i}`;
        const has = Object.keys(flat).some((k) => k === p || k.startsWith(`${p}.`));
        if (!has) break;
        items.push(
          f.element === "struct" ? unflatten(lookup, f.struct!, flat, p) : scalar(f.element!, p),
        );
      }
      out[key] = items;
    } else out[key] = scalar(f.type, path);
  }
  return out;
}
