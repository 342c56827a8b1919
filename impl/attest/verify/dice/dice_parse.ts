// Parses a DICE TD quote (DICE_QUOTE_COSE_SIGN1) strictly, in go-tdx-guest's order: one
// CBOR item and nothing after it, nesting at most DICE_QUOTE_LIMIT.MAX_CBOR_DEPTH, an
// optional CWT tag around tag 18 around exactly four elements; a non-empty protected
// header whose alg is ES384; an unprotected header with the certificates (x5bag, else
// x5chain); a non-empty payload with the claims; a signature of exactly 96 bytes. Any
// byte string gives either a quote or structured reasons: nothing throws.
import {
  CborFloat,
  type CborValue,
  decodeCbor,
  encodeCbor,
  isBytes,
  isMap,
  isTagged,
  mapGet,
  Tagged,
} from "../../dice/cbor.ts";
import { type DiceLayout, diceLayout } from "../../dice/dice_layout.ts";
import { sigStructure } from "../../dice/sig_structure.ts";
import { fail, ok, reason, type Result } from "../reason.ts";
import { type DiceClaims, parseClaims } from "./dice_claims.ts";
import type { CertLabel } from "./dice_chain.ts";

export interface DiceQuote {
  /** The CWT tag 61 was present around the COSE_Sign1. */
  cwtTagged: boolean;
  protectedBytes: Uint8Array;
  alg: bigint;
  kid: Uint8Array | undefined;
  contentType: string | undefined;
  certLabel: CertLabel;
  /** Both x5bag and x5chain were present (x5bag is used). */
  bothCertLabels: boolean;
  certs: Uint8Array[];
  payloadBytes: Uint8Array;
  claims: DiceClaims;
  signature: Uint8Array;
  /** The COSE Sig_structure: what the signature covers. */
  signedBytes: Uint8Array;
}

/** The first two bytes of the two encodings a DICE quote may start with (tag 61; tag 18 + array of 4). */
function leadingBytes(L: DiceLayout): Uint8Array[] {
  const elements = L.spec.struct("DICE_QUOTE_COSE_SIGN1").fields.length;
  return [
    encodeCbor(new Tagged(L.tag.cwt, null)),
    encodeCbor(new Tagged(L.tag.coseSign1, new Array(elements).fill(null))),
  ].map((b) => b.subarray(0, 2));
}

let leads: Uint8Array[] | undefined;

/** go-tdx-guest's detection: the quote starts D8 3D (tag 61) or D2 84 (tag 18, 4 elements). */
export function looksLikeDiceQuote(bytes: Uint8Array): boolean {
  leads ??= leadingBytes(diceLayout());
  return bytes.length >= 2 && leads.some((l) => l[0] === bytes[0] && l[1] === bytes[1]);
}

const describe = (v: CborValue | undefined): string => {
  if (v === undefined) return "nothing";
  if (isBytes(v)) return `a byte string of ${v.length} bytes`;
  if (isMap(v)) return `a map of ${v.size} entries`;
  if (isTagged(v)) return `tag ${v.tag}`;
  if (Array.isArray(v)) return `an array of ${v.length} elements`;
  if (typeof v === "string") return "a text string";
  if (typeof v === "number" || typeof v === "bigint") return `the integer ${v}`;
  if (v instanceof CborFloat) return `the float ${v.value}`;
  return String(v);
};

export function parseDiceQuote(bytes: Uint8Array): Result<DiceQuote> {
  const L = diceLayout();
  const bad = (field: string, message: string, expected?: string, actual?: string) =>
    fail<DiceQuote>(reason("parse", message, { field, expected, actual }));

  const root = decodeCbor(bytes, L.maxDepth);
  if (!root.ok) return bad("quote", `not one well-formed CBOR item: ${root.message}`);
  let item = root.value;
  const cwtTagged = isTagged(item, L.tag.cwt);
  if (cwtTagged) item = (item as { value: CborValue }).value;
  if (!isTagged(item, L.tag.coseSign1)) {
    return bad(
      "COSE_Sign1",
      "not a COSE_Sign1 (CBOR tag 18), optionally inside a CWT (tag 61)",
      `tag ${L.tag.coseSign1}`,
      describe(item),
    );
  }
  const arr = item.value as CborValue;
  const elements = L.spec.struct("DICE_QUOTE_COSE_SIGN1").fields.length;
  if (!Array.isArray(arr) || arr.length !== elements) {
    return bad(
      "COSE_Sign1",
      "the COSE_Sign1 is not an array of exactly 4 elements",
      `an array of ${elements} elements`,
      describe(arr),
    );
  }
  const [prot, unprot, payload, signature] = arr;

  // Protected header.
  if (!isBytes(prot) || prot.length === 0) {
    return bad(
      "protected",
      "the protected header is not a non-empty byte string",
      undefined,
      describe(prot),
    );
  }
  const ph = decodeCbor(prot, L.maxDepth);
  if (!ph.ok) return bad("protected", `the protected header is not one CBOR item: ${ph.message}`);
  if (!isMap(ph.value)) {
    return bad("protected", "the protected header is not a map", "a map", describe(ph.value));
  }
  const algValue = mapGet(ph.value, L.header.alg);
  if (algValue === undefined) {
    return bad("protected.alg", "the protected header has no alg (label 1)");
  }
  if (typeof algValue !== "number" && typeof algValue !== "bigint") {
    return bad("protected.alg", "alg is not an integer", "an integer", describe(algValue));
  }
  const alg = BigInt(algValue);
  if (alg !== BigInt(L.es384)) {
    return bad(
      "protected.alg",
      "unsupported signature algorithm",
      `${L.es384} (ES384)`,
      String(alg),
    );
  }

  // Unprotected header.
  if (!isMap(unprot)) {
    return bad("unprotected", "the unprotected header is not a map", "a map", describe(unprot));
  }
  const kid = mapGet(unprot, L.header.kid);
  if (kid !== undefined && !isBytes(kid)) {
    return bad("unprotected.kid", "kid is not a byte string", "a byte string", describe(kid));
  }
  const ct = mapGet(unprot, L.header.contentType);
  const bag = mapGet(unprot, L.header.x5bag);
  const chain = mapGet(unprot, L.header.x5chain);
  const certLabel: CertLabel = bag !== undefined ? "x5bag" : "x5chain";
  const certsValue = bag ?? chain;
  if (certsValue === undefined) {
    return bad("unprotected", "no certificates (x5bag, label 32, or x5chain, label 33)");
  }
  const certs = isBytes(certsValue) ? [certsValue] : certsValue;
  if (!Array.isArray(certs) || certs.length === 0) {
    return bad(
      `unprotected.${certLabel}`,
      "the certificates are not a byte string or a non-empty array of byte strings",
      undefined,
      describe(certsValue),
    );
  }
  for (let i = 0; i < certs.length; i++) {
    const c = certs[i];
    if (!isBytes(c) || c.length === 0) {
      return bad(
        `unprotected.${certLabel}[${i}]`,
        "a certificate is not a non-empty byte string",
        undefined,
        describe(c),
      );
    }
  }

  // Payload and claims.
  if (!isBytes(payload) || payload.length === 0) {
    return bad(
      "payload",
      "the payload is not a non-empty byte string",
      undefined,
      describe(payload),
    );
  }
  const claims = parseClaims(L, payload);
  if (!claims.ok) return claims;

  // Signature.
  if (!isBytes(signature) || signature.length !== L.signatureSize) {
    return bad(
      "signature",
      "the signature is not a byte string of the ES384 size",
      `${L.signatureSize} bytes`,
      describe(signature),
    );
  }
  return ok({
    cwtTagged,
    protectedBytes: prot,
    alg,
    kid: kid as Uint8Array | undefined,
    contentType: typeof ct === "string" ? ct : typeof ct === "number" ? String(ct) : undefined,
    certLabel,
    bothCertLabels: bag !== undefined && chain !== undefined,
    certs: certs as Uint8Array[],
    payloadBytes: payload,
    claims: claims.value,
    signature,
    signedBytes: sigStructure(prot, payload),
  });
}
