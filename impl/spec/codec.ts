// Encodes and decodes binary structs by the layouts in spec/struct/. Integers are
// little-endian unless a field says big; u64 decodes to bigint, smaller integers to
// number; bytes and reserved areas to Uint8Array (kept, so decode then encode gives
// the same bytes back); char to a string with its NUL padding removed.
import type { StructField, StructItem } from "./types.ts";
import { elementSize, fixedFieldSize, fixedStructSize, INT_SIZES } from "./layout.ts";
import { parseHex } from "./hex.ts";

export type Value = number | bigint | string | Uint8Array | Value[] | DecodedStruct;
export interface DecodedStruct {
  [field: string]: Value;
}

/** A decode or encode failure naming the struct, the field and the offset. */
export class CodecError extends Error {
  override name = "CodecError";
  constructor(
    readonly structName: string,
    readonly field: string,
    readonly offset: number,
    detail: string,
  ) {
    super(`${structName}.${field} at offset ${offset}: ${detail}`);
  }
}

export interface StructLookup {
  struct(name: string): StructItem;
}

function readInt(view: DataView, off: number, size: number, little: boolean): number | bigint {
  switch (size) {
    case 1:
      return view.getUint8(off);
    case 2:
      return view.getUint16(off, little);
    case 4:
      return view.getUint32(off, little);
    default:
      return view.getBigUint64(off, little);
  }
}

function writeInt(view: DataView, off: number, size: number, little: boolean, v: number | bigint) {
  const big = BigInt(v);
  if (big < 0n || big >= 1n << BigInt(8 * size)) {
    throw new RangeError(`value ${v} does not fit in ${size} bytes`);
  }
  switch (size) {
    case 1:
      view.setUint8(off, Number(big));
      break;
    case 2:
      view.setUint16(off, Number(big), little);
      break;
    case 4:
      view.setUint32(off, Number(big), little);
      break;
    default:
      view.setBigUint64(off, big, little);
  }
}

export class StructCodec {
  constructor(private readonly lookup: StructLookup) {}

  private structOf = (n: string) => {
    try {
      return this.lookup.struct(n);
    } catch {
      return undefined;
    }
  };

  /** Decodes `name` from the start of `bytes`; returns the value and bytes consumed. */
  decode(name: string, bytes: Uint8Array): { value: DecodedStruct; size: number } {
    const s = this.lookup.struct(name);
    if (s.encoding === "cbor") {
      throw new CodecError(name, "", 0, "CBOR structs are not binary layouts");
    }
    const fixed = fixedStructSize(s);
    if (fixed !== undefined && bytes.length < fixed) {
      throw new CodecError(name, "", bytes.length, `needs ${fixed} bytes, got ${bytes.length}`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out: DecodedStruct = {};
    let off = 0;
    let reservedIndex = 0;
    for (const f of s.fields) {
      const key = f.type === "reserved" && f.name in out ? `${f.name}_${++reservedIndex}` : f.name;
      const size = this.sizeOf(s, f, out, bytes.length - off, off);
      if (size < 0) {
        // A nested variable-size struct: its own decode says how much it took.
        const nested = this.decode(f.struct!, bytes.subarray(off));
        out[key] = nested.value;
        off += nested.size;
        continue;
      }
      if (off + size > bytes.length) {
        throw new CodecError(
          name,
          f.name,
          off,
          `needs ${size} bytes, only ${bytes.length - off} left`,
        );
      }
      out[key] = this.decodeField(s, f, bytes.subarray(off, off + size), view, off, size, out);
      off += size;
    }
    return { value: out, size: fixed ?? off };
  }

  private sizeOf(
    s: StructItem,
    f: StructField,
    prior: DecodedStruct,
    left: number,
    off: number,
  ): number {
    if (f.rest) return left;
    if (f.size_from) return Number(prior[f.size_from]);
    if (f.count_from) {
      const el = elementSize(f, this.structOf);
      if (el === undefined) throw new CodecError(s.name, f.name, off, "element size is not fixed");
      return Number(prior[f.count_from]) * el;
    }
    const fixed = fixedFieldSize(f, this.structOf);
    if (fixed !== undefined) return fixed;
    if (f.type === "struct" && f.struct) {
      // A nested variable struct: decode it to learn its size.
      return -1;
    }
    throw new CodecError(s.name, f.name, off, "size is not known");
  }

  private decodeField(
    s: StructItem,
    f: StructField,
    slice: Uint8Array,
    view: DataView,
    off: number,
    size: number,
    _prior: DecodedStruct,
  ): Value {
    const little = f.endian !== "big";
    switch (f.type) {
      case "u8":
      case "u16":
      case "u32":
      case "u64": {
        const v = readInt(view, off, INT_SIZES[f.type], little);
        if (f.value !== undefined && BigInt(v) !== parseHex(f.value)) {
          throw new CodecError(
            s.name,
            f.name,
            off,
            `expected ${f.value}, found 0x${BigInt(v).toString(16)}`,
          );
        }
        return v;
      }
      case "char": {
        let end = slice.indexOf(0);
        if (end < 0) end = slice.length;
        return String.fromCharCode(...slice.subarray(0, end));
      }
      case "struct":
        return this.decode(f.struct!, slice).value;
      case "array": {
        const el = elementSize(f, this.structOf)!;
        const items: Value[] = [];
        for (let p = 0; p + el <= size; p += el) {
          items.push(
            f.element === "struct"
              ? this.decode(f.struct!, slice.subarray(p, p + el)).value
              : readInt(view, off + p, el, little),
          );
        }
        return items;
      }
      default:
        return slice.slice();
    }
  }

  /** Encodes a value of struct `name`. Missing reserved fields are zero. */
  encode(name: string, value: DecodedStruct): Uint8Array {
    const s = this.lookup.struct(name);
    const parts: Uint8Array[] = [];
    let reservedIndex = 0;
    const seen = new Set<string>();
    for (const f of s.fields) {
      const key = f.type === "reserved" && seen.has(f.name)
        ? `${f.name}_${++reservedIndex}`
        : f.name;
      seen.add(f.name);
      parts.push(
        this.encodeField(s, f, value[key], value, parts.reduce((a, p) => a + p.length, 0)),
      );
    }
    const total = parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(fixedStructSize(s) ?? total);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  private encodeField(
    s: StructItem,
    f: StructField,
    v: Value | undefined,
    whole: DecodedStruct,
    off: number,
  ): Uint8Array {
    const fail = (detail: string) => new CodecError(s.name, f.name, off, detail);
    const little = f.endian !== "big";
    const fixed = fixedFieldSize(f, this.structOf);
    const declared = f.size_from !== undefined ? Number(whole[f.size_from]) : fixed;
    if (f.type in INT_SIZES) {
      const size = INT_SIZES[f.type];
      const buf = new Uint8Array(size);
      const iv = v ?? (f.value !== undefined ? parseHex(f.value) : undefined);
      if (typeof iv !== "number" && typeof iv !== "bigint") throw fail("expected an integer");
      try {
        writeInt(new DataView(buf.buffer), 0, size, little, iv);
      } catch (e) {
        throw fail((e as Error).message);
      }
      return buf;
    }
    if (f.type === "struct") {
      if (typeof v !== "object" || v === null || v instanceof Uint8Array || Array.isArray(v)) {
        throw fail(`expected a ${f.struct} value`);
      }
      const enc = this.encode(f.struct!, v as DecodedStruct);
      return this.fit(enc, declared, fail);
    }
    if (f.type === "array") {
      if (!Array.isArray(v)) throw fail("expected an array");
      const el = elementSize(f, this.structOf)!;
      const buf = new Uint8Array(el * v.length);
      const view = new DataView(buf.buffer);
      v.forEach((x, i) => {
        if (f.element === "struct") buf.set(this.encode(f.struct!, x as DecodedStruct), i * el);
        else writeInt(view, i * el, el, little, x as number | bigint);
      });
      const count = f.count_from !== undefined ? Number(whole[f.count_from]) : f.count;
      return this.fit(buf, count !== undefined ? count * el : declared, fail);
    }
    if (f.type === "char") {
      const text = typeof v === "string" ? v : "";
      const buf = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) buf[i] = text.charCodeAt(i) & 0xff;
      return this.fit(buf, declared, fail, true);
    }
    // bytes / reserved
    if (v === undefined && f.type === "reserved") return new Uint8Array(declared ?? 0);
    if (!(v instanceof Uint8Array)) throw fail("expected bytes");
    return this.fit(v, declared, fail);
  }

  private fit(buf: Uint8Array, size: number | undefined, fail: (d: string) => Error, pad = false) {
    if (size === undefined || buf.length === size) return buf;
    if (pad && buf.length < size) {
      const out = new Uint8Array(size);
      out.set(buf);
      return out;
    }
    throw fail(`expected ${size} bytes, got ${buf.length}`);
  }
}
