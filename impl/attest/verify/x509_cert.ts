// An X.509 certificate reduced to what chain checks need, parsed with pkijs. Parsing is
// the expensive part, so parsed certificates are kept by their DER bytes.
import * as pkijs from "pkijs";
import { bytesToHex } from "../../spec/hex.ts";
import { bytesKey } from "./byte_ops.ts";
import { derSignatureToRaw } from "./ecdsa_p256.ts";
import { pckOids } from "./oids.ts";
import { MemoCache } from "./memo_cache.ts";

export interface CertInfo {
  der: Uint8Array;
  tbs: Uint8Array;
  /** Raw r||s, or undefined when the signature is not a well-formed ECDSA value. */
  signature: Uint8Array | undefined;
  spki: Uint8Array;
  subject: Uint8Array;
  issuer: Uint8Array;
  subjectCN: string;
  issuerCN: string;
  notBefore: Date;
  notAfter: Date;
  serialHex: string;
  /** X.509 version as written (2 means v3). */
  version: number;
  isCA: boolean;
  pathLen: number | undefined;
  /** Raw extnValue of each extension, by OID. */
  extensions: Map<string, Uint8Array>;
}

function commonName(name: pkijs.RelativeDistinguishedNames): string {
  const cn = pckOids().commonName;
  const tv = name.typesAndValues.find((t) => t.type === cn);
  const v = tv?.value?.valueBlock?.value;
  return typeof v === "string" ? v : "";
}

/** A serial number as hex without leading zero bytes, so certificates and CRLs compare. */
export function normalizedSerialHex(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytesToHex(bytes.subarray(i));
}

const parsed = new MemoCache<string, CertInfo | undefined>(4096);

/** Parses a DER certificate; undefined when it is not one. */
export function parseCertificate(der: Uint8Array): CertInfo | undefined {
  return parsed.get(bytesKey(der), () => parseUncached(der));
}

function parseUncached(der: Uint8Array): CertInfo | undefined {
  let info: CertInfo | undefined;
  try {
    const c = pkijs.Certificate.fromBER(der as Uint8Array<ArrayBuffer>);
    const extensions = new Map<string, Uint8Array>();
    let isCA = false;
    let pathLen: number | undefined;
    for (const e of c.extensions ?? []) {
      extensions.set(e.extnID, e.extnValue.valueBlock.valueHexView.slice());
      if (e.parsedValue instanceof pkijs.BasicConstraints) {
        isCA = e.parsedValue.cA === true;
        const p = e.parsedValue.pathLenConstraint;
        pathLen = typeof p === "number" ? p : p?.valueBlock?.valueDec;
      }
    }
    info = {
      der: der.slice(),
      tbs: c.tbsView.slice(),
      signature: derSignatureToRaw(c.signatureValue.valueBlock.valueHexView),
      spki: new Uint8Array(c.subjectPublicKeyInfo.toSchema().toBER(false)),
      subject: new Uint8Array(c.subject.valueBeforeDecode),
      issuer: new Uint8Array(c.issuer.valueBeforeDecode),
      subjectCN: commonName(c.subject),
      issuerCN: commonName(c.issuer),
      notBefore: c.notBefore.value,
      notAfter: c.notAfter.value,
      serialHex: normalizedSerialHex(c.serialNumber.valueBlock.valueHexView),
      version: c.version,
      isCA,
      pathLen,
      extensions,
    };
    if (isNaN(info.notBefore.getTime()) || isNaN(info.notAfter.getTime())) info = undefined;
  } catch {
    info = undefined;
  }
  return info;
}
