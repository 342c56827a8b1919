// Struct arguments of the kvm and guest layers: a struct given as flattened fields (the
// vector value encoding), with omitted fields zero, turned into the bytes a caller
// passes; and the bytes a call wrote back, decoded and flattened again. A count field
// (count_from) given explicitly is written as given even when fewer elements follow:
// that is how a caller makes room for output or states a count the kernel must check.
import {
  CodecError,
  type DecodedStruct,
  type StructCodec,
  type Value,
} from "../../impl/spec/codec.ts";
import { INT_SIZES } from "../../impl/spec/layout.ts";
import type { Spec, StructField } from "../../impl/spec/mod.ts";
import { flatten, formatValue, parseValue } from "../value_format.ts";

/** Resolves a symbolic value ("$mem:buf+0x10", "$fd:gmem0") to an integer, or throws. */
export type Resolver = (text: string) => bigint;

interface Patch {
  offset: number;
  size: number;
  value: bigint;
}

/** The bytes of `struct` with the given flattened fields; every other field is zero. */
export function encodeFields(
  spec: Spec,
  codec: StructCodec,
  struct: string,
  fields: Record<string, string>,
  resolve: Resolver,
): Uint8Array {
  const given = new Map<string, Value>();
  for (const [k, text] of Object.entries(fields)) {
    given.set(k, text.startsWith("$") ? resolve(text) : parseValue(text));
  }
  const used = new Set<string>();
  const patches: Patch[] = [];
  const value = build(spec, struct, "", 0, given, used, patches);
  const unknown = [...given.keys()].filter((k) => !used.has(k));
  if (unknown.length) throw new RangeError(`${struct} has no field ${unknown[0]}`);
  const bytes = codec.encode(struct, value);
  const view = new DataView(bytes.buffer);
  for (const p of patches) {
    if (p.offset + p.size > bytes.length) continue;
    if (p.size === 8) view.setBigUint64(p.offset, p.value, true);
    else if (p.size === 4) view.setUint32(p.offset, Number(p.value), true);
    else if (p.size === 2) view.setUint16(p.offset, Number(p.value), true);
    else view.setUint8(p.offset, Number(p.value));
  }
  return bytes;
}

function keysOf(fields: StructField[]): string[] {
  const seen = new Set<string>();
  let reservedIndex = 0;
  return fields.map((f) => {
    const key = f.type === "reserved" && seen.has(f.name) ? `${f.name}_${++reservedIndex}` : f.name;
    seen.add(f.name);
    return key;
  });
}

function build(
  spec: Spec,
  struct: string,
  prefix: string,
  base: number | undefined,
  given: Map<string, Value>,
  used: Set<string>,
  patches: Patch[],
): DecodedStruct {
  const s = spec.struct(struct);
  const out: DecodedStruct = {};
  const keys = keysOf(s.fields);
  const take = (path: string): Value | undefined => {
    if (!given.has(path)) return undefined;
    used.add(path);
    return given.get(path);
  };
  const scalar = (type: string, path: string): Value => {
    const v = take(path) ?? 0n;
    if (typeof v !== "bigint") throw new RangeError(`${path} must be an integer`);
    return type === "u64" ? v : Number(v);
  };
  const at = (f: StructField) =>
    base !== undefined && f.offset !== undefined ? base + f.offset : undefined;
  s.fields.forEach((f, i) => {
    const key = keys[i];
    const path = prefix ? `${prefix}.${key}` : key;
    if (f.type in INT_SIZES) out[key] = scalar(f.type, path);
    else if (f.type === "struct") {
      out[key] = build(spec, f.struct!, path, at(f), given, used, patches);
    } else if (f.type === "array") {
      let n = f.count ?? 0;
      if (f.count === undefined) {
        for (const k of given.keys()) {
          const m = k.startsWith(`${path}.`) ? /^(\d+)/.exec(k.slice(path.length + 1)) : null;
          if (m) n = Math.max(n, Number(m[1]) + 1);
        }
      }
      const items: Value[] = [];
      for (let j = 0; j < n; j++) {
        items.push(
          f.element === "struct"
            ? build(spec, f.struct!, `${path}.${j}`, undefined, given, used, patches)
            : scalar(f.element!, `${path}.${j}`),
        );
      }
      out[key] = items;
      if (f.count_from) {
        // The count follows the elements unless the caller states it: then it is patched in.
        const countField = s.fields.find((x) => x.name === f.count_from)!;
        const stated = out[f.count_from];
        const asGiven = given.has(prefix ? `${prefix}.${f.count_from}` : f.count_from);
        if (asGiven && BigInt(stated as number) !== BigInt(n)) {
          const off = at(countField);
          if (off === undefined) throw new RangeError(`${path}: cannot state its count here`);
          patches.push({
            offset: off,
            size: INT_SIZES[countField.type],
            value: BigInt(stated as number),
          });
        }
        out[f.count_from] = countField.type === "u64" ? BigInt(n) : n;
      }
    } else if (f.type === "char") {
      const v = take(path);
      out[key] = typeof v === "string" ? v : "";
    } else {
      // bytes or reserved: omitted means zeros of the declared size.
      const v = take(path);
      if (v !== undefined && !(v instanceof Uint8Array)) {
        throw new RangeError(`${path} must be bytes ("hex:...")`);
      }
      out[key] = v ?? new Uint8Array(f.size ?? 0);
    }
  });
  return out;
}

/**
 * `bytes` decoded as `struct` and flattened. When the whole struct does not decode
 * (a count the kernel raised past the room the caller made), the fields that do are
 * given: fixed fields, and nested structs as far as they go.
 */
export function decodeFields(
  spec: Spec,
  codec: StructCodec,
  struct: string,
  bytes: Uint8Array,
): Record<string, string> {
  try {
    return flatten(codec.decode(struct, bytes).value);
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
  }
  const out: Record<string, string> = {};
  lenient(spec, codec, struct, bytes, "", out);
  return out;
}

function lenient(
  spec: Spec,
  codec: StructCodec,
  struct: string,
  bytes: Uint8Array,
  prefix: string,
  out: Record<string, string>,
): void {
  const s = spec.struct(struct);
  const keys = keysOf(s.fields);
  s.fields.forEach((f, i) => {
    if (f.offset === undefined) return;
    const path = prefix ? `${prefix}.${keys[i]}` : keys[i];
    const rest = bytes.subarray(f.offset);
    if (f.type === "struct") {
      try {
        Object.assign(out, flatten(codec.decode(f.struct!, rest).value, path));
      } catch (e) {
        if (!(e instanceof CodecError)) throw e;
        lenient(spec, codec, f.struct!, rest, path, out);
      }
      return;
    }
    if (f.size === undefined && !(f.type in INT_SIZES)) return;
    const size = f.size ?? INT_SIZES[f.type];
    if (f.offset + size > bytes.length || f.type === "array") return;
    const slice = bytes.subarray(f.offset, f.offset + size);
    if (f.type in INT_SIZES) {
      let v = 0n;
      for (let j = size - 1; j >= 0; j--) v = (v << 8n) | BigInt(slice[j]);
      out[path] = formatValue(v);
    } else out[path] = formatValue(slice.slice());
  });
}
