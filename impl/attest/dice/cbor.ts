// CBOR for DICE quotes, on cborg (npm cborg, pinned in deno.json). cborg was chosen over
// cbor-x for its strictness: encoding is deterministic (shortest integer and length forms,
// definite lengths, map keys in RFC 8949 bytewise order with rfc8949EncodeOptions), unknown
// tags are refused unless asked for, indefinite-length byte and text strings are refused
// (as go-tdx-guest's parser does), duplicate map keys can be refused, and it is plain
// JavaScript with no native add-on. What cborg leaves open - a nesting limit and trailing
// bytes - is added here. Maps decode to Map (integer and text keys keep their type), tags
// to cborg's Tagged, byte strings to Uint8Array, floats to CborFloat (so that 1.0 is not
// taken for the integer 1).
import { decode, encode, rfc8949EncodeOptions, Tagged, Tokenizer, Type } from "cborg";
import type { Token } from "cborg";

export { Tagged };

/** A CBOR floating-point value (major type 7), kept apart from integers. */
export class CborFloat {
  constructor(readonly value: number) {}
}

export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | undefined
  | Uint8Array
  | CborValue[]
  | Map<CborValue, CborValue>
  | Tagged
  | CborFloat;

/** Deterministically encoded CBOR (RFC 8949 section 4.2.1). */
export function encodeCbor(value: unknown): Uint8Array {
  return encode(value, rfc8949EncodeOptions);
}

/** Any tag decodes to a Tagged carrying its number and content. */
const ANY_TAG = new Proxy({}, {
  get: (_t, key) =>
    typeof key === "string" && /^\d+$/.test(key) ? Tagged.decoder(Number(key)) : undefined,
});

/** Counts open arrays, maps and tags; an item deeper than `maxDepth` stops the decode. */
class DepthLimitedTokenizer extends Tokenizer {
  private readonly open: number[] = [];
  constructor(data: Uint8Array, options: object, private readonly maxDepth: number) {
    super(data, options);
  }
  override next(): Token {
    const open = this.open;
    while (open.length && open[open.length - 1] === 0) open.pop();
    // The item about to be read sits at depth open.length (the whole input is depth 0).
    if (open.length > this.maxDepth) {
      throw new Error(`nesting deeper than ${this.maxDepth} at byte ${this.pos()}`);
    }
    const token = super.next();
    if (Type.equals(token.type, Type.break)) {
      open.pop();
      return token;
    }
    if (Type.equals(token.type, Type.float)) token.value = new CborFloat(token.value as number);
    if (open.length) open[open.length - 1]--;
    const n = token.value as number;
    if (Type.equals(token.type, Type.array) && n > 0) open.push(n);
    else if (Type.equals(token.type, Type.map) && n > 0) open.push(2 * n);
    else if (Type.equals(token.type, Type.tag)) open.push(1);
    return token;
  }
}

export type DecodeResult = { ok: true; value: CborValue } | { ok: false; message: string };

/**
 * Decodes exactly one CBOR item that fills `bytes`: no trailing bytes, no duplicate map
 * keys, no indefinite-length strings, nesting at most `maxDepth`. Never throws.
 */
export function decodeCbor(bytes: Uint8Array, maxDepth: number): DecodeResult {
  if (bytes.length === 0) return { ok: false, message: "no CBOR item (empty input)" };
  const options = { useMaps: true, rejectDuplicateMapKeys: true, tags: ANY_TAG };
  try {
    const value = decode(bytes, {
      ...options,
      tokenizer: new DepthLimitedTokenizer(bytes, options, maxDepth),
    }) as CborValue;
    return { ok: true, value };
  } catch (e) {
    const message = (e instanceof Error ? e.message : String(e)).replace(
      /^CBOR decode error: /,
      "",
    );
    return { ok: false, message };
  }
}

export function isMap(v: CborValue | undefined): v is Map<CborValue, CborValue> {
  return v instanceof Map;
}

export function isBytes(v: CborValue | undefined): v is Uint8Array {
  return v instanceof Uint8Array;
}

export function isTagged(v: CborValue | undefined, tag?: number): v is Tagged {
  return v instanceof Tagged && (tag === undefined || v.tag === tag);
}

/** An integer as a bigint (CBOR integers may exceed 2^53), or undefined. */
export function asInteger(v: CborValue | undefined): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  return undefined;
}

/** The value under an integer or text key (a CBOR integer key may decode as number or bigint). */
export function mapGet(
  m: Map<CborValue, CborValue>,
  key: number | bigint | string,
): CborValue | undefined {
  if (typeof key === "string") return m.get(key);
  const n = Number(key);
  if (Number.isSafeInteger(n) && m.has(n)) return m.get(n);
  return m.get(BigInt(key));
}
