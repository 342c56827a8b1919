// Loading trust anchors: the Intel SGX Root CA shipped in impl/attest/roots, or a
// certificate given as PEM or DER.
import { type TrustAnchor, trustAnchorFrom } from "./cert_chain.ts";
import { pemCertificates } from "./pem.ts";

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
