// ECDSA P-256 / SHA-256 verification through WebCrypto (native code, and async so that
// independent signatures of one quote can be checked side by side). Bad keys and bad
// signatures give false or undefined, never an exception.
import { ecdsaSigValueToRaw } from "./der.ts";
import { quoteLayout } from "./quote_layout.ts";

const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

/** WebCrypto takes views of plain ArrayBuffers; every Uint8Array here is one. */
const buf = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

/** Imports a raw public key given as X then Y (big-endian, equal halves). */
export async function importRawP256Key(xy: Uint8Array): Promise<CryptoKey | undefined> {
  const half = quoteLayout().p256SignatureSize / 2;
  if (xy.length !== 2 * half) return undefined;
  try {
    return await crypto.subtle.importKey(
      "jwk",
      {
        kty: "EC",
        crv: "P-256",
        x: base64url(xy.subarray(0, half)),
        y: base64url(xy.subarray(half)),
        ext: true,
      },
      ECDSA_P256,
      false,
      ["verify"],
    );
  } catch {
    return undefined;
  }
}

/** Imports a DER SubjectPublicKeyInfo; anything but an EC P-256 key is refused. */
export async function importSpkiP256Key(spki: Uint8Array): Promise<CryptoKey | undefined> {
  try {
    return await crypto.subtle.importKey("spki", buf(spki), ECDSA_P256, false, ["verify"]);
  } catch {
    return undefined;
  }
}

/** Verifies a raw r||s signature over data. */
export async function verifyP256(
  key: CryptoKey,
  rawSignature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  if (rawSignature.length !== quoteLayout().p256SignatureSize) return false;
  try {
    return await crypto.subtle.verify(ECDSA_SHA256, key, buf(rawSignature), buf(data));
  } catch {
    return false;
  }
}

/** Converts a DER ECDSA-Sig-Value (as X.509 and CRLs carry it) to raw r||s. */
export function derSignatureToRaw(der: Uint8Array): Uint8Array | undefined {
  const size = quoteLayout().p256SignatureSize / 2;
  return ecdsaSigValueToRaw(der, size);
}
