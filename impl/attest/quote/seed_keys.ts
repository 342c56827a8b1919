// Every key and every "random" value of the test PKI comes from one seed, so a quote
// generated twice from the same seed and TDREPORT is the same bytes. Values are drawn
// with HKDF-SHA256 (seed as input key material, a label per use); secret keys are mapped
// from 1.5 times their size of such bytes with @noble/curves' hash-to-field reduction
// (P-256 for the SGX-style PKI, P-384 for the DICE chain of the Quoting extension).
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { p256, p384 } from "@noble/curves/nist.js";

const SALT = new TextEncoder().encode("tdx-conformance test PKI v1");

export type KeyCurve = "P-256" | "P-384";

export interface SigningKey {
  label: string;
  /** P-256 (signatures with SHA-256) or P-384 (with SHA-384). */
  curve: KeyCurve;
  /** Secret scalar, big-endian (32 bytes for P-256, 48 for P-384). */
  secret: Uint8Array;
  /** Uncompressed SEC1 point, 0x04 || X || Y. */
  publicKey: Uint8Array;
  /** X || Y: the raw form quotes carry (64 bytes for P-256). */
  point: Uint8Array;
}

/** `length` bytes for `label`, fixed by the seed. */
export function deriveBytes(seed: Uint8Array, label: string, length: number): Uint8Array {
  return hkdf(sha256, seed, SALT, new TextEncoder().encode(label), length);
}

export function deriveKey(seed: Uint8Array, label: string, curve: KeyCurve = "P-256"): SigningKey {
  const c = curve === "P-384" ? p384 : p256;
  const size = curve === "P-384" ? 48 : 32;
  const secret = c.utils.randomSecretKey(deriveBytes(seed, `key:${label}`, size + size / 2));
  const publicKey = c.getPublicKey(secret, false);
  return { label, curve, secret, publicKey, point: publicKey.slice(1) };
}
