// Certificate revocation lists (Intel's root CA CRL and PCK CRLs), parsed from their DER and
// kept by their DER bytes; the signature check is cached per (CRL, issuer key).
import { bitStringBytes, decodeDer, isType, timeValue } from "./der.ts";
import { bytesKey } from "./byte_ops.ts";
import { derSignatureToRaw, verifyP256 } from "./ecdsa_p256.ts";
import { nameCommonName, normalizedSerialHex } from "./x509_cert.ts";
import { MemoCache } from "./memo_cache.ts";

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

const parsed = new MemoCache<string, CrlInfo | undefined>();

export function parseCrl(der: Uint8Array): CrlInfo | undefined {
  const key = bytesKey(der);
  return parsed.get(key, () => parseUncached(der.slice(), key));
}

function parseUncached(der: Uint8Array, key: string): CrlInfo | undefined {
  const list = decodeDer(der);
  if (!isType(list, "SEQUENCE") || list.children.length !== 3) return undefined;
  const [tbs, , sig] = list.children;
  const sigBytes = bitStringBytes(sig);
  if (!isType(tbs, "SEQUENCE") || !sigBytes) return undefined;
  const items = tbs.children;
  let i = items[0]?.type === "INTEGER" ? 1 : 0; // version
  i++; // signature AlgorithmIdentifier
  const issuer = items[i++];
  if (!isType(issuer, "SEQUENCE")) return undefined;
  const thisUpdate = timeValue(items[i++]);
  if (!thisUpdate) return undefined;
  const nextUpdate = timeValue(items[i]);
  if (nextUpdate) i++;
  const revoked = new Set<string>();
  const entries = items[i];
  if (isType(entries, "SEQUENCE")) {
    for (const entry of entries.children) {
      const serial = entry.children[0];
      if (!isType(serial, "INTEGER")) return undefined;
      revoked.add(normalizedSerialHex(serial.value));
    }
  }
  return {
    der,
    key,
    tbs: tbs.raw,
    signature: derSignatureToRaw(sigBytes),
    issuer: issuer.raw,
    issuerCN: nameCommonName(issuer),
    thisUpdate,
    nextUpdate,
    revoked,
  };
}

const signatureChecks = new MemoCache<string, Promise<boolean>>();

/** Whether the CRL's signature verifies with the issuer key (cached per CRL and key). */
export function crlSignedBy(crl: CrlInfo, issuerSpkiKey: string, key: CryptoKey): Promise<boolean> {
  return signatureChecks.get(
    `${issuerSpkiKey}\u0000${crl.key}`,
    () => crl.signature ? verifyP256(key, crl.signature, crl.tbs) : Promise.resolve(false),
  );
}
