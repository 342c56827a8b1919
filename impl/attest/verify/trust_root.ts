// Loading trust anchors: the Intel SGX Root CA shipped in impl/attest/roots, or a
// certificate given as PEM or DER - a P-256 root (ECDSA quotes) or a P-384 one (the DICE
// root of DICE quotes).
import { type TrustAnchor, trustAnchorFrom } from "./cert_chain.ts";
import { diceTrustAnchorFrom } from "./dice/dice_trust_root.ts";
import { importSpkiP384Key } from "./dice/es384.ts";
import { pemCertificates } from "./pem.ts";
import { parseCertificate } from "./x509_cert.ts";

export const DEFAULT_ROOT_URL = new URL("../roots/intel_sgx_root_ca.pem", import.meta.url);

/** A trust anchor from PEM (first certificate) or DER bytes, or a message saying why not. */
export async function trustAnchorFromBytes(bytes: Uint8Array): Promise<TrustAnchor | string> {
  const text = new TextDecoder().decode(bytes.subarray(0, 64));
  let der = bytes;
  if (text.includes("-----BEGIN")) {
    const certs = pemCertificates(new TextDecoder().decode(bytes));
    if (!certs?.length) return "no PEM certificate in it";
    der = certs[0];
  }
  const cert = parseCertificate(der);
  if (cert && await importSpkiP384Key(cert.spki)) return await diceTrustAnchorFrom(der);
  return await trustAnchorFrom(der);
}

let defaultRoot: Promise<TrustAnchor> | undefined;

/** The Intel SGX Root CA from impl/attest/roots (read once). */
export function intelSgxRoot(): Promise<TrustAnchor> {
  defaultRoot ??= (async () => {
    const r = await trustAnchorFromBytes(await Deno.readFile(DEFAULT_ROOT_URL));
    if (typeof r === "string") throw new Error(`${DEFAULT_ROOT_URL.pathname}: ${r}`);
    return r;
  })();
  return defaultRoot;
}
