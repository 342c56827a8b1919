// PEM text to DER and back, for certificate chains (the PCK chain of a quote, the
// issuer chains of collateral).
const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const bin = atob(text);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The DER of every PEM block in `text`, in order. */
export function pemToDer(text: string): Uint8Array<ArrayBuffer>[] {
  return [...text.matchAll(BLOCK)].map((m) => fromBase64(m[2].replace(/\s+/g, "")));
}

/** One PEM block, 64 base64 characters a line, as OpenSSL and Intel's PCS write it. */
export function derToPem(der: Uint8Array, label = "CERTIFICATE"): string {
  const lines = toBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
