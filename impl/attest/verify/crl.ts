// Certificate revocation lists (Intel's root CA CRL and PCK CRLs), parsed with pkijs and
// kept by their DER bytes; the signature check is cached per (CRL, issuer key).
import * as pkijs from "pkijs";
import { bytesKey } from "./byte_ops.ts";
import { derSignatureToRaw, verifyP256 } from "./ecdsa_p256.ts";
import { normalizedSerialHex } from "./x509_cert.ts";
import { pckOids } from "./oids.ts";

export interface CrlInfo {
  der: Uint8Array;
  key: string;
  tbs: Uint8Array;
  signature: Uint8Array | undefined;
  issuer: Uint8Array;
  issuerCN: string;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  revoked: Set<string>;
}

const parsed = new Map<string, CrlInfo | undefined>();

export function parseCrl(der: Uint8Array): CrlInfo | undefined {
  const key = bytesKey(der);
  if (parsed.has(key)) return parsed.get(key);
  let info: CrlInfo | undefined;
  try {
    const c = pkijs.CertificateRevocationList.fromBER(der);
    const cn = c.issuer.typesAndValues.find((t) => t.type === pckOids().commonName)?.value
      ?.valueBlock?.value;
    info = {
      der: der.slice(),
      key,
      tbs: c.tbsView.slice(),
      signature: derSignatureToRaw(c.signatureValue.valueBlock.valueHexView),
      issuer: new Uint8Array(c.issuer.valueBeforeDecode),
      issuerCN: typeof cn === "string" ? cn : "",
      thisUpdate: c.thisUpdate.value,
      nextUpdate: c.nextUpdate?.value,
      revoked: new Set(
        (c.revokedCertificates ?? []).map((r) =>
          normalizedSerialHex(r.userCertificate.valueBlock.valueHexView)
        ),
      ),
    };
    if (isNaN(info.thisUpdate.getTime())) info = undefined;
  } catch {
    info = undefined;
  }
  if (parsed.size > 1024) parsed.clear();
  parsed.set(key, info);
  return info;
}

const signatureChecks = new Map<string, Promise<boolean>>();

/** Whether the CRL's signature verifies with the issuer key (cached per CRL and key). */
export function crlSignedBy(crl: CrlInfo, issuerSpkiKey: string, key: CryptoKey): Promise<boolean> {
  const k = `${issuerSpkiKey}\u0000${crl.key}`;
  let p = signatureChecks.get(k);
  if (!p) {
    p = crl.signature ? verifyP256(key, crl.signature, crl.tbs) : Promise.resolve(false);
    if (signatureChecks.size > 1024) signatureChecks.clear();
    signatureChecks.set(k, p);
  }
  return p;
}
