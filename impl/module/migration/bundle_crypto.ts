// AES-256-GCM over a migration bundle: the MBMD's MAC'ed fields are the additional
// authenticated data, the bundle's pages are encrypted in order, and the tag is the
// MBMD's MAC. The 12-byte IV is built from the stream's counters: IV_COUNTER (u64),
// MIGS_INDEX (u16), then two zero bytes, little-endian (the module's migs_iv_t).
import { type CipherGCM, createCipheriv, createDecipheriv, type DecipherGCM } from "node:crypto";
import type { Spec } from "../../spec/mod.ts";
import { migLimitN } from "./limits.ts";

export function bundleIv(spec: Spec, ivCounter: bigint, migsIndex: number): Uint8Array {
  const iv = new Uint8Array(migLimitN(spec, "IV_SIZE"));
  const v = new DataView(iv.buffer);
  v.setBigUint64(0, ivCounter, true);
  v.setUint16(8, migsIndex, true);
  return iv;
}

/** One bundle's GCM computation, in one direction. */
export class GcmStream {
  private readonly c: CipherGCM | DecipherGCM;
  private readonly encrypting: boolean;

  constructor(key: Uint8Array, iv: Uint8Array, direction: "encrypt" | "decrypt") {
    this.encrypting = direction === "encrypt";
    this.c = this.encrypting
      ? createCipheriv("aes-256-gcm", key, iv)
      : createDecipheriv("aes-256-gcm", key, iv);
  }

  aad(bytes: Uint8Array): void {
    this.c.setAAD(bytes);
  }

  /** Encrypts (or decrypts) the next part of the bundle. */
  update(bytes: Uint8Array): Uint8Array {
    return new Uint8Array(this.c.update(bytes));
  }

  /** The tag of an encrypted bundle. */
  mac(): Uint8Array {
    if (!this.encrypting) throw new Error("a decrypting stream verifies, it does not make a MAC");
    this.c.final();
    return new Uint8Array((this.c as CipherGCM).getAuthTag());
  }

  /** Whether a decrypted bundle's tag is `mac`. */
  verify(mac: Uint8Array): boolean {
    if (this.encrypting) {
      const got = this.mac();
      return got.length === mac.length && got.every((b, i) => b === mac[i]);
    }
    try {
      (this.c as DecipherGCM).setAuthTag(mac);
      this.c.final();
      return true;
    } catch {
      return false;
    }
  }
}
