// Every key and every "random" value of the test PKI comes from one seed, so a quote
// generated twice from the same seed and TDREPORT is the same bytes. Values are drawn
// with HKDF-SHA256 (seed as input key material, a label per use); P-256 secret keys are
// mapped from 48 such bytes with @noble/curves' hash-to-field reduction.
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { p256 } from "@noble/curves/nist.js";

const SALT = new TextEncoder().encode("tdx-conformance test PKI v1");

export interface SigningKey {
  label: string;
  /** 32-byte P-256 secret scalar, big-endian. */
  secret: Uint8Array;
  /** Uncompressed SEC1 point, 0x04 || X || Y. */
  publicKey: Uint8Array;
  /** X || Y, 64 bytes: the raw form quotes carry. */
  point: Uint8Array;
}

/** `length` bytes for `label`, fixed by the seed. */
export function deriveBytes(seed: Uint8Array, label: string, length: number): Uint8Array {
  return hkdf(sha256, seed, SALT, new TextEncoder().encode(label), length);
}

export function deriveKey(seed: Uint8Array, label: string): SigningKey {
  const secret = p256.utils.randomSecretKey(deriveBytes(seed, `key:${label}`, 48));
  const publicKey = p256.getPublicKey(secret, false);
  return { label, secret, publicKey, point: publicKey.slice(1) };
}
