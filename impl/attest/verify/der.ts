// DER reading for certificates, CRLs and the SGX extensions, on @lapo/asn1js's decoder
// (generic and fast: a PCK certificate decodes about ten times faster than with asn1js,
// which dominates verifying a quote from a platform not seen before). This is a thin
// typed view: node kinds by the decoder's type names, raw byte ranges, and the few value
// conversions X.509 needs. Indefinite lengths (BER, not DER) are refused.
import { ASN1 } from "@lapo/asn1js";

/** The decoder's node, as far as it is used here. */
interface LapoNode {
  typeName(): string;
  posStart(): number;
  posContent(): number;
  posEnd(): number;
  length: number;
  tag: { tagConstructed: boolean };
  sub: LapoNode[] | null;
  stream: { parseOID(start: number, end: number, maxLength: number): string };
}

export interface DerNode {
  /** Universal type name ("SEQUENCE", "INTEGER", "OBJECT_IDENTIFIER", ...) or "[n]" for context tags. */
  readonly type: string;
  /** The whole element, header included. */
  readonly raw: Uint8Array;
  /** The content octets. */
  readonly value: Uint8Array;
  /** Children of a constructed element; empty for primitive ones. */
  readonly children: DerNode[];
  readonly node: LapoNode;
}

function wrap(n: LapoNode, bytes: Uint8Array): DerNode {
  if (n.length < 0) throw new RangeError("indefinite length");
  return {
    type: n.typeName(),
    raw: bytes.subarray(n.posStart(), n.posEnd()),
    value: bytes.subarray(n.posContent(), n.posEnd()),
    // Primitive OCTET/BIT STRINGs the decoder opened speculatively stay primitive here.
    children: n.tag.tagConstructed && n.sub ? n.sub.map((s) => wrap(s, bytes)) : [],
    node: n,
  };
}

/** Decodes one DER element that fills `bytes` exactly, or undefined. */
export function decodeDer(bytes: Uint8Array): DerNode | undefined {
  if (bytes.length === 0) return undefined;
  try {
    const n = (ASN1 as unknown as { decode(b: Uint8Array): LapoNode }).decode(bytes);
    if (n.posStart() !== 0 || n.posEnd() !== bytes.length) return undefined;
    return wrap(n, bytes);
  } catch {
    return undefined;
  }
}

export function isType(n: DerNode | undefined, type: string): n is DerNode {
  return n !== undefined && n.type === type;
}

/** Dotted text of an OBJECT IDENTIFIER. */
export function oidText(n: DerNode): string {
  const p = n.node;
  return p.stream.parseOID(p.posContent(), p.posEnd(), Infinity).split("\n")[0];
}

/** A non-negative INTEGER or ENUMERATED that fits a JS number, else undefined. */
export function smallInteger(n: DerNode | undefined): number | undefined {
  if (!n || (n.type !== "INTEGER" && n.type !== "ENUMERATED") || n.value.length === 0) {
    return undefined;
  }
  if (n.value[0] & 0x80 || n.value.length > 6) return undefined;
  let v = 0;
  for (const b of n.value) v = v * 256 + b;
  return v;
}

export function booleanValue(n: DerNode | undefined): boolean | undefined {
  return n && n.type === "BOOLEAN" && n.value.length === 1 ? n.value[0] !== 0 : undefined;
}

/** The bytes of a BIT STRING with no unused bits. */
export function bitStringBytes(n: DerNode | undefined): Uint8Array | undefined {
  if (!n || n.type !== "BIT_STRING" || n.value.length === 0 || n.value[0] !== 0) return undefined;
  return n.value.subarray(1);
}

const UTC = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GENERALIZED = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

/** UTCTime (years 1950-2049, RFC 5280) or GeneralizedTime, in the Z forms DER requires. */
export function timeValue(n: DerNode | undefined): Date | undefined {
  if (!n || (n.type !== "UTCTime" && n.type !== "GeneralizedTime")) return undefined;
  const text = String.fromCharCode(...n.value);
  const m = (n.type === "UTCTime" ? UTC : GENERALIZED).exec(text);
  if (!m) return undefined;
  let year = Number(m[1]);
  if (n.type === "UTCTime") year += year < 50 ? 2000 : 1900;
  const d = new Date(
    Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])),
  );
  return isNaN(d.getTime()) ? undefined : d;
}

/** Text of a directory string (UTF8String, PrintableString, ...). */
export function stringValue(n: DerNode | undefined): string | undefined {
  if (!n) return undefined;
  if (n.type === "UTF8String") {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(n.value);
    } catch {
      return undefined;
    }
  }
  if (/^(PrintableString|IA5String|TeletexString|VisibleString)$/.test(n.type)) {
    return String.fromCharCode(...n.value);
  }
  return undefined;
}

/**
 * A DER ECDSA-Sig-Value (as X.509, CRLs and COSE-over-X.509 carry it) as raw r || s, each
 * left-padded to `half` bytes; undefined when it is not one or a value is too long.
 */
export function ecdsaSigValueToRaw(der: Uint8Array, half: number): Uint8Array | undefined {
  const seq = decodeDer(der);
  if (!isType(seq, "SEQUENCE") || seq.children.length !== 2) return undefined;
  const out = new Uint8Array(2 * half);
  for (let i = 0; i < 2; i++) {
    const n = seq.children[i];
    if (!isType(n, "INTEGER")) return undefined;
    let v = n.value;
    while (v.length > half && v[0] === 0) v = v.subarray(1);
    if (v.length > half) return undefined;
    out.set(v, i * half + half - v.length);
  }
  return out;
}
