// DICE trust anchors: the "DCP DICE Global Root CA" (P-384) shipped in impl/attest/roots -
// the default root of DICE quotes - or a P-384 certificate given as DER.
import { bytesKey, equalBytes } from "../byte_ops.ts";
import type { TrustAnchor } from "../cert_chain.ts";
import { pemCertificates } from "../pem.ts";
import { parseCertificate } from "../x509_cert.ts";
import { derSignatureToRawP384, importSpkiP384Key, verifyEs384 } from "./es384.ts";
import { certSignature, signedWithEcdsaSha384 } from "./dice_cert.ts";

export const DICE_ROOT_URL = new URL("../../roots/dcp_dice_global_root_ca.pem", import.meta.url);

/** A P-384 trust anchor from DER, or a message saying why the certificate is not one. */
export async function diceTrustAnchorFrom(der: Uint8Array): Promise<TrustAnchor | string> {
  const cert = parseCertificate(der);
  if (!cert) return "not a DER X.509 certificate";
  const key = await importSpkiP384Key(cert.spki);
  if (!key) return "its public key is not an EC P-384 key";
  if (!equalBytes(cert.subject, cert.issuer)) return "it is not self-issued";
  const sig = certSignature(cert, derSignatureToRawP384);
  if (!sig || !signedWithEcdsaSha384(cert) || !(await verifyEs384(key, sig, cert.tbs))) {
    return "its self-signature does not verify (ECDSA P-384/SHA-384)";
  }
  if (!cert.isCA) return "it is not a CA certificate (basic constraints)";
  return { cert, key, spkiKey: bytesKey(cert.spki) };
}

let defaultRoot: Promise<TrustAnchor> | undefined;

/** The DCP DICE Global Root CA from impl/attest/roots (read once). */
export function dcpDiceRoot(): Promise<TrustAnchor> {
  defaultRoot ??= (async () => {
    const text = await Deno.readTextFile(DICE_ROOT_URL);
    const der = pemCertificates(text)?.[0];
    if (!der) throw new Error(`${DICE_ROOT_URL.pathname}: no PEM certificate`);
    const r = await diceTrustAnchorFrom(der);
    if (typeof r === "string") throw new Error(`${DICE_ROOT_URL.pathname}: ${r}`);
    return r;
  })();
  return defaultRoot;
}
