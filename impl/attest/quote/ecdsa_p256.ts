// ECDSA P-256 with SHA-256 and RFC 6979 deterministic nonces (@noble/curves), so equal
// inputs give equal signatures. Quotes carry signatures raw (r || s, 32 bytes each);
// X.509 certificates and CRLs carry them DER-encoded. S is left as computed (not
// normalized to the low half), as OpenSSL and Intel's libraries produce it.
import { p256 } from "@noble/curves/nist.js";
import type { SigningKey } from "./seed_keys.ts";

/** r || s over SHA-256(message). */
export function signRaw(key: SigningKey, message: Uint8Array): Uint8Array {
  return p256.sign(message, key.secret, { lowS: false, format: "compact" });
}

/** DER ECDSA-Sig-Value over SHA-256(message). */
export function signDer(key: SigningKey, message: Uint8Array): Uint8Array {
  return p256.sign(message, key.secret, { lowS: false, format: "der" });
}
