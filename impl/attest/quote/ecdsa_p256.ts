// ECDSA with RFC 6979 deterministic nonces (@noble/curves), so equal inputs give equal
// signatures: P-256 with SHA-256 (SGX-style quotes and PKI), P-384 with SHA-384 for a
// P-384 key (the DICE chain and ES384 quotes). Quotes carry signatures raw (r || s);
// X.509 certificates and CRLs carry them DER-encoded. S is left as computed (not
// normalized to the low half), as OpenSSL and Intel's libraries produce it.
import { p256, p384 } from "@noble/curves/nist.js";
import type { SigningKey } from "./seed_keys.ts";

const curveOf = (key: SigningKey) => key.curve === "P-384" ? p384 : p256;

/** r || s over SHA-256(message), or SHA-384 with a P-384 key. */
export function signRaw(key: SigningKey, message: Uint8Array): Uint8Array {
  return curveOf(key).sign(message, key.secret, { lowS: false, format: "compact" });
}

/** DER ECDSA-Sig-Value over SHA-256(message), or SHA-384 with a P-384 key. */
export function signDer(key: SigningKey, message: Uint8Array): Uint8Array {
  return curveOf(key).sign(message, key.secret, { lowS: false, format: "der" });
}
