// Certificate revocation lists (Intel's root CA CRL and PCK CRLs), parsed with asn1js and
// kept by their DER bytes; the signature check is cached per (CRL, issuer key).
import * as asn1js from "asn1js";
import { bytesKey } from "./byte_ops.ts";
import { derSignatureToRaw, verifyP256 } from "./ecdsa_p256.ts";
import { normalizedSerialHex } from "./x509_cert.ts";
import { pckOids } from "./oids.ts";
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
  return parsed.get(key, () => parseUncached(der, key));
}

function time(node: asn1js.AsnType | undefined): Date | undefined {
  return node instanceof asn1js.UTCTime || node instanceof asn1js.GeneralizedTime
    ? node.toDate()
    : undefined;
}

function commonName(name: asn1js.Sequence): string {
  const cn = pckOids().commonName;
  for (const rdn of name.valueBlock.value) {
    if (!(rdn instanceof asn1js.Set)) continue;
    for (const atv of rdn.valueBlock.value) {
      if (!(atv instanceof asn1js.Sequence) || atv.valueBlock.value.length !== 2) continue;
      const [type, value] = atv.valueBlock.value;
      if (type instanceof asn1js.ObjectIdentifier && type.valueBlock.toString() === cn) {
        const v = (value as asn1js.BaseStringBlock).valueBlock?.value;
        if (typeof v === "string") return v;
      }
    }
  }
  return "";
}

// The CRL is walked on asn1js's generic tree: pkijs builds an object per revoked entry,
// which costs tens of milliseconds on Intel's PCK CRLs.
function parseUncached(der: Uint8Array, key: string): CrlInfo | undefined {
  try {
    const asn = asn1js.fromBER(der as Uint8Array<ArrayBuffer>);
    if (asn.offset !== der.length || !(asn.result instanceof asn1js.Sequence)) return undefined;
    const [tbsNode, , sigNode] = asn.result.valueBlock.value;
    if (!(tbsNode instanceof asn1js.Sequence) || !(sigNode instanceof asn1js.BitString)) {
      return undefined;
    }
    const items = tbsNode.valueBlock.value;
    let i = items[0] instanceof asn1js.Integer ? 1 : 0;
    i++; // signature AlgorithmIdentifier
    const issuer = items[i++];
    if (!(issuer instanceof asn1js.Sequence)) return undefined;
    const thisUpdate = time(items[i++]);
    if (!thisUpdate || isNaN(thisUpdate.getTime())) return undefined;
    const nextUpdate = time(items[i]);
    if (nextUpdate) i++;
    const revoked = new Set<string>();
    const list = items[i];
    if (list instanceof asn1js.Sequence) {
      for (const entry of list.valueBlock.value) {
        const serial = entry instanceof asn1js.Sequence ? entry.valueBlock.value[0] : undefined;
        if (!(serial instanceof asn1js.Integer)) return undefined;
        revoked.add(normalizedSerialHex(serial.valueBlock.valueHexView));
      }
    }
    return {
      der: der.slice(),
      key,
      tbs: tbsNode.valueBeforeDecodeView.slice(),
      signature: derSignatureToRaw(sigNode.valueBlock.valueHexView),
      issuer: issuer.valueBeforeDecodeView.slice(),
      issuerCN: commonName(issuer),
      thisUpdate,
      nextUpdate,
      revoked,
    };
  } catch {
    return undefined;
  }
}

const signatureChecks = new MemoCache<string, Promise<boolean>>();

/** Whether the CRL's signature verifies with the issuer key (cached per CRL and key). */
export function crlSignedBy(crl: CrlInfo, issuerSpkiKey: string, key: CryptoKey): Promise<boolean> {
  return signatureChecks.get(
    `${issuerSpkiKey}\u0000${crl.key}`,
    () => crl.signature ? verifyP256(key, crl.signature, crl.tbs) : Promise.resolve(false),
  );
}
