// Byte-array comparisons the checks need.

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isAllZero(a: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Latin-1 view of bytes, used as a cheap exact cache key. */
export function bytesKey(a: Uint8Array): string {
  let s = "";
  const CHUNK = 8192;
  for (let i = 0; i < a.length; i += CHUNK) {
    s += String.fromCharCode(...a.subarray(i, i + CHUNK));
  }
  return s;
}
