// The test PKI that stands in for Intel's: a root CA, a PCK Platform CA, a PCK leaf
// carrying the SGX extensions of the test platform, a TCB signing certificate for
// collateral, and the root and PCK CRLs. Certificates are built with pkijs; every key
// comes from the seed and every signature is RFC 6979, serials and dates are fixed, so
// the same seed always gives the same bytes. Names say "test": nothing here is Intel's.
import { createHash, createPublicKey } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type { Spec } from "../../spec/mod.ts";
import { deriveBytes, deriveKey, type SigningKey } from "./seed_keys.ts";
import { signDer } from "./ecdsa_p256.ts";
import { type TestName, x509Name } from "./x509_names.ts";
import { encodePckExtension } from "./pck_extension.ts";
import { sgxOid } from "./sgx_oids.ts";
import { derToPem } from "./pem.ts";
import type { TestPlatform } from "./test_platform.ts";

/** Validity of every test certificate and CRL: fixed, so the bytes are too. */
export const TEST_VALIDITY = {
  notBefore: new Date("2025-01-01T00:00:00Z"),
  notAfter: new Date("2049-12-31T23:59:59Z"),
};

export interface IssuedCert {
  key: SigningKey;
  subject: TestName;
  der: Uint8Array;
  pem: string;
}

export interface TestPki {
  root: IssuedCert;
  platformCa: IssuedCert;
  pck: IssuedCert;
  tcbSigning: IssuedCert;
  /** Type 5 certification data: leaf, Platform CA, root, PEM, as in real quotes. */
  pckChainPem: string;
  rootCrl: Uint8Array;
  pckCrl: Uint8Array;
}

const ORG = { O: "TDX Conformance Suite (test keys, not Intel)", L: "Test", ST: "Test", C: "ZZ" };
const NAMES = {
  root: { CN: "TDX Conformance Test SGX Root CA", ...ORG },
  platformCa: { CN: "TDX Conformance Test SGX PCK Platform CA", ...ORG },
  pck: { CN: "TDX Conformance Test SGX PCK Certificate", ...ORG },
  tcbSigning: { CN: "TDX Conformance Test SGX TCB Signing", ...ORG },
};
const CRL_URL = {
  root: "https://test-root-ca.invalid/root.crl",
  platformCa: "https://test-root-ca.invalid/pckcrl?ca=platform",
};

// RFC 5280 KeyUsage bit positions and the URI choice of GeneralName.
export const KEY_USAGE = { digitalSignature: 0, nonRepudiation: 1, keyCertSign: 5, cRLSign: 6 };
const GENERAL_NAME_URI = 6;

/** ecdsa-with-SHA256, or ecdsa-with-SHA384 for a P-384 signer (pkijs's OID table). */
function ecdsaAlgorithm(signer: SigningKey): pkijs.AlgorithmIdentifier {
  const hash = signer.curve === "P-384" ? "SHA-384" : "SHA-256";
  const oid = pkijs.getCrypto(true).getOIDByAlgorithm(
    { name: "ECDSA", hash: { name: hash } } as Algorithm,
    true,
  );
  return new pkijs.AlgorithmIdentifier({ algorithmId: oid });
}

function keyUsage(bits: number[]): ArrayBuffer {
  let v = 0;
  for (const b of bits) v |= 0x80 >> b;
  // DER drops trailing zero bits of a named-bit string.
  let unused = 0;
  while (unused < 8 && !(v & (1 << unused))) unused++;
  return new asn1js.BitString({ valueHex: Uint8Array.of(v).buffer, unusedBits: unused }).toBER();
}

function spki(key: SigningKey): pkijs.PublicKeyInfo {
  const b64url = (b: Uint8Array) =>
    btoa(String.fromCharCode(...b)).replace(/\+/g, "-")
      .replace(/\//g, "_").replace(/=+$/, "");
  const half = key.point.length / 2;
  const der = createPublicKey({
    key: {
      kty: "EC",
      crv: key.curve,
      x: b64url(key.point.subarray(0, half)),
      y: b64url(key.point.subarray(half)),
    },
    format: "jwk",
  }).export({ type: "spki", format: "der" });
  return pkijs.PublicKeyInfo.fromBER(new Uint8Array(der));
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits. */
function keyId(key: SigningKey): ArrayBuffer {
  return new Uint8Array(createHash("sha1").update(key.publicKey).digest()).buffer;
}

/** A positive 20-byte serial with no leading zero byte (so its DER is 20 bytes). */
function serial(seed: Uint8Array, label: string): asn1js.Integer {
  const b = deriveBytes(seed, `serial:${label}`, 20);
  b[0] = (b[0] & 0x3f) | 0x40;
  return new asn1js.Integer({ valueHex: b.buffer });
}

export function ext(id: string, critical: boolean, value: ArrayBuffer): pkijs.Extension {
  return new pkijs.Extension({ extnID: id, critical, extnValue: value });
}

export interface CertRequest {
  seed: Uint8Array;
  label: string;
  subject: TestName;
  subjectKey: SigningKey;
  issuer: TestName;
  issuerKey: SigningKey;
  /** CRL distribution point; none when undefined. */
  crlUrl?: string;
  /** A CA: path length, or null for a CA without a path length constraint. */
  pathLen?: number | null;
  /** KeyUsage bits (KEY_USAGE); default keyCertSign+cRLSign for a CA, else digitalSignature+nonRepudiation. */
  keyUsage?: number[];
  extra?: pkijs.Extension[];
}

/**
 * A certificate signed by the issuer key, ECDSA with SHA-256 (P-256 issuer) or SHA-384
 * (P-384 issuer); the subject key may be either curve.
 */
export function issueCertificate(r: CertRequest): Uint8Array {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = serial(r.seed, r.label);
  cert.signature = ecdsaAlgorithm(r.issuerKey);
  cert.signatureAlgorithm = ecdsaAlgorithm(r.issuerKey);
  cert.issuer = x509Name(r.issuer);
  cert.subject = x509Name(r.subject);
  cert.notBefore = new pkijs.Time({ type: 0, value: TEST_VALIDITY.notBefore });
  cert.notAfter = new pkijs.Time({ type: 0, value: TEST_VALIDITY.notAfter });
  cert.subjectPublicKeyInfo = spki(r.subjectKey);
  const ca = r.pathLen !== undefined;
  const dp = r.crlUrl === undefined ? undefined : new pkijs.CRLDistributionPoints({
    distributionPoints: [
      new pkijs.DistributionPoint({
        distributionPoint: [new pkijs.GeneralName({ type: GENERAL_NAME_URI, value: r.crlUrl })],
      }),
    ],
  });
  // The order of Intel's certificates: AKI, CRL DP, SKI, key usage, basic constraints.
  cert.extensions = [
    ext(
      pkijs.id_AuthorityKeyIdentifier,
      false,
      new pkijs.AuthorityKeyIdentifier({
        keyIdentifier: new asn1js.OctetString({ valueHex: keyId(r.issuerKey) }),
      }).toSchema().toBER(),
    ),
    ...(dp ? [ext(pkijs.id_CRLDistributionPoints, false, dp.toSchema().toBER())] : []),
    ext(
      pkijs.id_SubjectKeyIdentifier,
      false,
      new asn1js.OctetString({ valueHex: keyId(r.subjectKey) }).toBER(),
    ),
    ext(
      pkijs.id_KeyUsage,
      true,
      keyUsage(
        r.keyUsage ??
          (ca
            ? [KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]
            : [KEY_USAGE.digitalSignature, KEY_USAGE.nonRepudiation]),
      ),
    ),
    ext(
      pkijs.id_BasicConstraints,
      true,
      new pkijs.BasicConstraints(
        ca ? { cA: true, ...(r.pathLen === null ? {} : { pathLenConstraint: r.pathLen }) } : {},
      ).toSchema().toBER(),
    ),
    ...(r.extra ?? []),
  ];
  const tbs = new Uint8Array(cert.encodeTBS().toBER());
  cert.tbsView = tbs;
  cert.signatureValue = new asn1js.BitString({
    valueHex: signDer(r.issuerKey, tbs).slice().buffer,
  });
  return new Uint8Array(cert.toSchema().toBER());
}

function crl(issuer: TestName, issuerKey: SigningKey): Uint8Array {
  const list = new pkijs.CertificateRevocationList();
  list.version = 1;
  list.signature = ecdsaAlgorithm(issuerKey);
  list.signatureAlgorithm = ecdsaAlgorithm(issuerKey);
  list.issuer = x509Name(issuer);
  list.thisUpdate = new pkijs.Time({ type: 0, value: TEST_VALIDITY.notBefore });
  list.nextUpdate = new pkijs.Time({ type: 0, value: TEST_VALIDITY.notAfter });
  list.crlExtensions = new pkijs.Extensions({
    extensions: [
      ext(pkijs.id_CRLNumber, false, new asn1js.Integer({ value: 1 }).toBER()),
      ext(
        pkijs.id_AuthorityKeyIdentifier,
        false,
        new pkijs.AuthorityKeyIdentifier({
          keyIdentifier: new asn1js.OctetString({ valueHex: keyId(issuerKey) }),
        }).toSchema().toBER(),
      ),
    ],
  });
  // pkijs keeps a CRL's TBS encoder protected: take the TBS from a full encoding.
  const tbs = new Uint8Array((list.toSchema(true) as asn1js.Sequence).valueBlock.value[0].toBER());
  list.tbsView = tbs;
  list.signatureValue = new asn1js.BitString({ valueHex: signDer(issuerKey, tbs).slice().buffer });
  return new Uint8Array(list.toSchema().toBER());
}

function issued(key: SigningKey, subject: TestName, der: Uint8Array): IssuedCert {
  return { key, subject, der, pem: derToPem(der) };
}

export function makeTestPki(spec: Spec, seed: Uint8Array, platform: TestPlatform): TestPki {
  const keys = {
    root: deriveKey(seed, "root ca"),
    platformCa: deriveKey(seed, "pck platform ca"),
    pck: deriveKey(seed, "pck"),
    tcbSigning: deriveKey(seed, "tcb signing"),
  };
  const rootDer = issueCertificate({
    seed,
    label: "root",
    subject: NAMES.root,
    subjectKey: keys.root,
    issuer: NAMES.root,
    issuerKey: keys.root,
    crlUrl: CRL_URL.root,
    pathLen: 1,
  });
  const caDer = issueCertificate({
    seed,
    label: "platform ca",
    subject: NAMES.platformCa,
    subjectKey: keys.platformCa,
    issuer: NAMES.root,
    issuerKey: keys.root,
    crlUrl: CRL_URL.root,
    pathLen: 0,
  });
  const pckDer = issueCertificate({
    seed,
    label: "pck",
    subject: NAMES.pck,
    subjectKey: keys.pck,
    issuer: NAMES.platformCa,
    issuerKey: keys.platformCa,
    crlUrl: CRL_URL.platformCa,
    extra: [ext(sgxOid(spec), false, encodePckExtension(spec, platform.pck).slice().buffer)],
  });
  const tcbDer = issueCertificate({
    seed,
    label: "tcb signing",
    subject: NAMES.tcbSigning,
    subjectKey: keys.tcbSigning,
    issuer: NAMES.root,
    issuerKey: keys.root,
    crlUrl: CRL_URL.root,
  });
  const root = issued(keys.root, NAMES.root, rootDer);
  const platformCa = issued(keys.platformCa, NAMES.platformCa, caDer);
  const pck = issued(keys.pck, NAMES.pck, pckDer);
  return {
    root,
    platformCa,
    pck,
    tcbSigning: issued(keys.tcbSigning, NAMES.tcbSigning, tcbDer),
    pckChainPem: pck.pem + platformCa.pem + root.pem,
    rootCrl: crl(NAMES.root, keys.root),
    pckCrl: crl(NAMES.platformCa, keys.platformCa),
  };
}
