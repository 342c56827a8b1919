// Deterministic sample values for any struct in the spec: used by the round-trip
// tests of every struct and by vector generation.
import { type DecodedStruct, StructCodec, type StructLookup, type Value } from "./codec.ts";
import { fixedFieldSize, INT_SIZES } from "./layout.ts";
import { parseHex } from "./hex.ts";

/** xorshift64*: small, seedable, identical everywhere. */
export class SampleRng {
  private state: bigint;
  constructor(seed: number) {
    this.state = (BigInt(seed) * 0x9E3779B97F4A7C15n + 1n) & 0xFFFF_FFFF_FFFF_FFFFn;
  }
  next64(): bigint {
    let x = this.state;
    x ^= x >> 12n;
    x ^= (x << 25n) & 0xFFFF_FFFF_FFFF_FFFFn;
    x ^= x >> 27n;
    this.state = x;
    return (x * 0x2545F4914F6CDD1Dn) & 0xFFFF_FFFF_FFFF_FFFFn;
  }
  below(n: number): number {
    return Number(this.next64() % BigInt(n));
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Number(this.next64() & 0xFFn);
    return out;
  }
}

function intValue(type: string, rng: SampleRng): number | bigint {
  const size = INT_SIZES[type];
  const v = rng.next64() & ((1n << BigInt(8 * size)) - 1n);
  return size === 8 ? v : Number(v);
}

function asInt(type: string, n: number): number | bigint {
  return type === "u64" ? BigInt(n) : n;
}

export function sampleStruct(lookup: StructLookup, name: string, rng: SampleRng): DecodedStruct {
  const s = lookup.struct(name);
  const codec = new StructCodec(lookup);
  const structOf = (n: string) => {
    try {
      return lookup.struct(n);
    } catch {
      return undefined;
    }
  };
  const lengthFields = new Set(
    s.fields.flatMap((f) => [f.size_from, f.count_from]).filter(Boolean),
  );
  const out: DecodedStruct = {};
  let reservedIndex = 0;
  for (const f of s.fields) {
    const key = f.type === "reserved" && f.name in out ? `${f.name}_${++reservedIndex}` : f.name;
    let v: Value;
    if (f.type in INT_SIZES) {
      if (f.value !== undefined) {
        v = f.type === "u64" ? parseHex(f.value) : Number(parseHex(f.value));
      } else if (lengthFields.has(f.name)) v = asInt(f.type, 0); // set below from what it measures
      else v = intValue(f.type, rng);
    } else if (f.type === "char") {
      const len = fixedFieldSize(f, structOf) ?? 4;
      v = Array.from(
        { length: rng.below(len + 1) },
        () => String.fromCharCode(0x41 + rng.below(26)),
      )
        .join("");
    } else if (f.type === "struct") {
      v = sampleStruct(lookup, f.struct!, rng);
    } else if (f.type === "array") {
      const count = f.count ?? 1 + rng.below(3);
      v = Array.from(
        { length: count },
        () =>
          f.element === "struct" ? sampleStruct(lookup, f.struct!, rng) : intValue(f.element!, rng),
      );
    } else if (f.type === "reserved") {
      v = new Uint8Array(fixedFieldSize(f, structOf) ?? 0);
    } else {
      v = rng.bytes(fixedFieldSize(f, structOf) ?? rng.below(8));
    }
    out[key] = v;
  }
  // Length and count fields now take the size of what they describe.
  for (const f of s.fields) {
    const target = f.size_from ?? f.count_from;
    if (!target) continue;
    const lenField = s.fields.find((x) => x.name === target)!;
    const v = out[f.name];
    const n = f.count_from
      ? (v as Value[]).length
      : v instanceof Uint8Array
      ? v.length
      : f.type === "struct"
      ? codec.encode(f.struct!, v as DecodedStruct).length
      : (v as Value[]).length;
    out[target] = asInt(lenField.type, n);
  }
  return out;
}
