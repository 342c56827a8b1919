// PEM (RFC 7468) text to DER blocks: the PCK chain in a quote and the issuer chains in
// collateral are concatenated PEM certificates.

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

/** Every PEM block in the text; undefined when a block's base64 does not decode. */
export function pemBlocks(text: string): PemBlock[] | undefined {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const b64 = m[2].replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
    let bin: string;
    try {
      bin = atob(b64);
    } catch {
      return undefined;
    }
    const der = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
    out.push({ label: m[1], der });
  }
  return out;
}

/** The DER certificates of a PEM chain, in order. */
export function pemCertificates(text: string): Uint8Array[] | undefined {
  return pemBlocks(text)?.filter((b) => b.label === "CERTIFICATE").map((b) => b.der);
}

export function derToPem(der: Uint8Array, label: string): string {
  let b64 = "";
  const CHUNK = 8192;
  for (let i = 0; i < der.length; i += CHUNK) {
    b64 += String.fromCharCode(...der.subarray(i, i + CHUNK));
  }
  b64 = btoa(b64);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
