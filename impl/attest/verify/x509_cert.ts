// An X.509 certificate reduced to what chain checks need, read from its DER (RFC 5280
// layout). Parsing is the expensive part of meeting a new platform, so parsed
// certificates are kept by their DER bytes.
import { bytesToHex } from "../../spec/hex.ts";
import { bytesKey } from "./byte_ops.ts";
import {
  bitStringBytes,
  booleanValue,
  decodeDer,
  type DerNode,
  isType,
  oidText,
  smallInteger,
  stringValue,
  timeValue,
} from "./der.ts";
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
  /**
   * Both AlgorithmIdentifiers (the outer signatureAlgorithm and the TBS signature field)
   * are ecdsa-with-SHA256 without parameters, as RFC 5280 and RFC 5758 require of the
   * certificates this verifier accepts; false when they differ or name another algorithm.
   */
  signatureAlgorithmOk: boolean;
}

/** An AlgorithmIdentifier that is ecdsa-with-SHA256 with its parameters absent. */
function isEcdsaSha256(alg: DerNode | undefined): boolean {
  return isType(alg, "SEQUENCE") && alg.children.length === 1 &&
    isType(alg.children[0], "OBJECT_IDENTIFIER") &&
    oidText(alg.children[0]) === pckOids().ecdsaWithSha256;
}

/** A serial number as hex without leading zero bytes, so certificates and CRLs compare. */
export function normalizedSerialHex(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytesToHex(bytes.subarray(i));
}

/** The common name in an X.501 Name (SEQUENCE OF SET OF {type, value}), or "". */
export function nameCommonName(name: DerNode): string {
  const cn = pckOids().commonName;
  for (const rdn of name.children) {
    for (const atv of rdn.children) {
      const [type, value] = atv.children;
      if (isType(type, "OBJECT_IDENTIFIER") && oidText(type) === cn) {
        return stringValue(value) ?? "";
      }
    }
  }
  return "";
}

const parsed = new MemoCache<string, CertInfo | undefined>(4096, "platform");

/** Parses a DER certificate; undefined when it is not one. */
export function parseCertificate(der: Uint8Array): CertInfo | undefined {
  return parsed.get(bytesKey(der), () => parseUncached(der.slice()));
}

function parseUncached(der: Uint8Array): CertInfo | undefined {
  const cert = decodeDer(der);
  if (!isType(cert, "SEQUENCE") || cert.children.length !== 3) return undefined;
  const [tbs, outerAlg, sig] = cert.children;
  const sigBytes = bitStringBytes(sig);
  if (!isType(tbs, "SEQUENCE") || !sigBytes) return undefined;
  const t = tbs.children;
  let i = 0;
  let version = 0;
  if (t[0]?.type === "[0]") {
    const v = smallInteger(t[0].children[0]);
    if (v === undefined) return undefined;
    version = v;
    i++;
  }
  const serial = t[i++];
  const innerAlg = t[i++];
  const issuer = t[i++];
  const validity = t[i++];
  const subject = t[i++];
  const spki = t[i++];
  if (
    !isType(serial, "INTEGER") || !isType(issuer, "SEQUENCE") || !isType(validity, "SEQUENCE") ||
    !isType(subject, "SEQUENCE") || !isType(spki, "SEQUENCE")
  ) return undefined;
  const notBefore = timeValue(validity.children[0]);
  const notAfter = timeValue(validity.children[1]);
  if (!notBefore || !notAfter) return undefined;
  const extensions = new Map<string, Uint8Array>();
  const extWrapper = t.slice(i).find((n) => n.type === "[3]");
  if (extWrapper) {
    const list = extWrapper.children[0];
    if (!isType(list, "SEQUENCE")) return undefined;
    for (const e of list.children) {
      const id = e.children[0];
      const value = e.children[e.children.length - 1];
      if (!isType(id, "OBJECT_IDENTIFIER") || !isType(value, "OCTET_STRING")) return undefined;
      const oid = oidText(id);
      if (extensions.has(oid)) return undefined; // RFC 5280: one instance of each
      extensions.set(oid, value.value);
    }
  }
  let isCA = false;
  let pathLen: number | undefined;
  const bcBytes = extensions.get(pckOids().basicConstraints);
  if (bcBytes) {
    const bc = decodeDer(bcBytes);
    if (!isType(bc, "SEQUENCE")) return undefined;
    for (const f of bc.children) {
      if (f.type === "BOOLEAN") isCA = booleanValue(f) === true;
      else if (f.type === "INTEGER") pathLen = smallInteger(f);
    }
  }
  return {
    der,
    tbs: tbs.raw,
    signature: derSignatureToRaw(sigBytes),
    spki: spki.raw,
    subject: subject.raw,
    issuer: issuer.raw,
    subjectCN: nameCommonName(subject),
    issuerCN: nameCommonName(issuer),
    notBefore,
    notAfter,
    serialHex: normalizedSerialHex(serial.value),
    version,
    isCA,
    pathLen,
    extensions,
    signatureAlgorithmOk: isEcdsaSha256(outerAlg) && isEcdsaSha256(innerAlg) &&
      bytesToHex(outerAlg.raw) === bytesToHex(innerAlg!.raw),
  };
}
