// ECDSA P-384 / SHA-384 (COSE ES384, and the ecdsa-with-SHA384 certificates of the DICE
// chain) through WebCrypto. Bad keys and bad signatures give false or undefined, never an
// exception.
import { ecdsaSigValueToRaw } from "../der.ts";
import { diceLayout } from "../../dice/dice_layout.ts";

const ECDSA_P384 = { name: "ECDSA", namedCurve: "P-384" } as const;
const ECDSA_SHA384 = { name: "ECDSA", hash: "SHA-384" } as const;

/** WebCrypto takes views of plain ArrayBuffers; every Uint8Array here is one. */
const buf = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

/** Imports a DER SubjectPublicKeyInfo; anything but an EC P-384 key is refused. */
export async function importSpkiP384Key(spki: Uint8Array): Promise<CryptoKey | undefined> {
  try {
    return await crypto.subtle.importKey("spki", buf(spki), ECDSA_P384, false, ["verify"]);
  } catch {
    return undefined;
  }
}

/** Verifies a raw r || s signature (48 bytes each) over data. */
export async function verifyEs384(
  key: CryptoKey,
  rawSignature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  if (rawSignature.length !== diceLayout().signatureSize) return false;
  try {
    return await crypto.subtle.verify(ECDSA_SHA384, key, buf(rawSignature), buf(data));
  } catch {
    return false;
  }
}

/** A DER ECDSA-Sig-Value (as certificates carry it) as raw r || s for P-384, or undefined. */
export function derSignatureToRawP384(der: Uint8Array): Uint8Array | undefined {
  const size = diceLayout().signatureSize / 2;
  return ecdsaSigValueToRaw(der, size);
}
