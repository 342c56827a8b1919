// Verifies a certificate chain (leaf first) up to a trusted root: names link, signatures
// verify with ECDSA P-256/SHA-256, basic constraints hold. The time-independent result is
// cached per chain bytes; validity at the verification time is checked on every call.
import { bytesToHex } from "../../spec/hex.ts";
import { bytesKey, equalBytes } from "./byte_ops.ts";
import { importSpkiP256Key, verifyP256 } from "./ecdsa_p256.ts";
import { type CheckName, type Reason, reason } from "./reason.ts";
import { type CertInfo, parseCertificate } from "./x509_cert.ts";
import { MemoCache } from "./memo_cache.ts";

export interface TrustAnchor {
  cert: CertInfo;
  key: CryptoKey;
  spkiKey: string;
}

/** A chain whose signatures and constraints were checked (reasons empty) or not. */
export interface CheckedChain {
  /** Leaf first, the trust anchor excluded. */
  certs: CertInfo[];
  leafKey: CryptoKey | undefined;
  /** Keys of every certificate in certs, for CRLs they issued. */
  keys: (CryptoKey | undefined)[];
  reasons: Reason[];
}

/** X.509 version field value of a v3 certificate. */
const X509_V3 = 2;

export async function trustAnchorFrom(der: Uint8Array): Promise<TrustAnchor | string> {
  const cert = parseCertificate(der);
  if (!cert) return "not a DER X.509 certificate";
  const key = await importSpkiP256Key(cert.spki);
  if (!key) return "its public key is not an EC P-256 key";
  if (!equalBytes(cert.subject, cert.issuer)) return "it is not self-issued";
  if (!cert.signature || !(await verifyP256(key, cert.signature, cert.tbs))) {
    return "its self-signature does not verify";
  }
  if (!cert.isCA) return "it is not a CA certificate (basic constraints)";
  return { cert, key, spkiKey: bytesKey(cert.spki) };
}

export interface ChainExpectation {
  check: CheckName;
  what: string;
  /** The leaf's subject common name must contain this. */
  leafCommonName: string;
}

export async function verifyChainUncached(
  ders: Uint8Array[],
  root: TrustAnchor,
  expect: ChainExpectation,
): Promise<CheckedChain> {
  const reasons: Reason[] = [];
  const bad = (message: string, detail: Parameters<typeof reason>[2] = {}) =>
    reasons.push(reason(expect.check, `${expect.what}: ${message}`, detail));
  const certs: CertInfo[] = [];
  for (let i = 0; i < ders.length; i++) {
    const c = parseCertificate(ders[i]);
    if (!c) {
      bad(`certificate ${i} is not a DER X.509 certificate`, { field: `certificate[${i}]` });
      return { certs: [], leafKey: undefined, keys: [], reasons };
    }
    certs.push(c);
  }
  if (certs.length === 0) {
    bad("no certificates");
    return { certs, leafKey: undefined, keys: [], reasons };
  }
  // A chain may carry the root; it must be the trusted one, which is then used in its place.
  const last = certs[certs.length - 1];
  if (certs.length > 1 && equalBytes(last.subject, last.issuer)) {
    if (!equalBytes(last.spki, root.cert.spki) || !equalBytes(last.subject, root.cert.subject)) {
      bad("the chain ends at a root that is not the trusted root", {
        field: `certificate[${certs.length - 1}]`,
        expected: root.cert.subjectCN,
        actual: `${last.subjectCN} (key ${bytesToHex(last.spki).slice(-16)})`,
      });
    }
    certs.pop();
  }
  const keys = await Promise.all(certs.map((c) => importSpkiP256Key(c.spki)));
  const checks: Promise<void>[] = [];
  for (let i = 0; i < certs.length; i++) {
    const c = certs[i];
    const parent = i + 1 < certs.length ? certs[i + 1] : root.cert;
    const parentKey = i + 1 < certs.length ? keys[i + 1] : root.key;
    const field = `certificate[${i}] (${c.subjectCN})`;
    if (c.version !== X509_V3) {
      bad("not an X.509 v3 certificate", { field, actual: `v${c.version + 1}` });
    }
    if (!keys[i]) bad("public key is not EC P-256", { field });
    if (!c.signatureAlgorithmOk) {
      bad("the signature algorithm is not ecdsa-with-SHA256 in both places", { field });
    }
    if (!equalBytes(c.issuer, parent.subject)) {
      bad("issuer name does not match the next certificate's subject", {
        field,
        expected: parent.subjectCN,
        actual: c.issuerCN,
      });
    }
    if (i === 0 && c.isCA) bad("the leaf is a CA certificate", { field });
    if (i > 0 && !c.isCA) bad("an issuing certificate is not a CA (basic constraints)", { field });
    if (i > 0 && c.pathLen !== undefined && c.pathLen < i - 1) {
      bad("path length constraint exceeded", {
        field,
        expected: `<= ${c.pathLen}`,
        actual: String(i - 1),
      });
    }
    if (
      parent === root.cert && root.cert.pathLen !== undefined &&
      root.cert.pathLen < certs.length - 1
    ) {
      bad("the root's path length constraint is exceeded", { field });
    }
    if (!c.signature) {
      bad("signature is not an ECDSA signature value", { field });
    } else if (parentKey) {
      checks.push(
        verifyP256(parentKey, c.signature, c.tbs).then((good) => {
          if (!good) bad("signature does not verify with the issuer's key", { field });
        }),
      );
    }
  }
  await Promise.all(checks);
  if (!certs[0].subjectCN.includes(expect.leafCommonName)) {
    bad("the leaf's common name is not the expected kind", {
      field: "certificate[0].subject.CN",
      expected: `contains "${expect.leafCommonName}"`,
      actual: certs[0].subjectCN,
    });
  }
  return { certs, leafKey: keys[0], keys, reasons };
}

const chains = new MemoCache<string, Promise<CheckedChain>>();

export function verifyChain(
  ders: Uint8Array[],
  root: TrustAnchor,
  expect: ChainExpectation,
): Promise<CheckedChain> {
  const key = `${root.spkiKey}\u0000${expect.check}\u0000${expect.leafCommonName}\u0000` +
    ders.map(bytesKey).join("\u0000");
  return chains.get(key, () => verifyChainUncached(ders, root, expect));
}

/** Reasons for certificates (root included) not valid at `at`. */
export function validityReasons(
  certs: CertInfo[],
  at: Date,
  check: CheckName,
  what: string,
): Reason[] {
  const out: Reason[] = [];
  certs.forEach((c, i) => {
    if (at < c.notBefore || at > c.notAfter) {
      out.push(reason(check, `${what}: certificate not valid at ${at.toISOString()}`, {
        field: `certificate[${i}] (${c.subjectCN})`,
        expected: `${c.notBefore.toISOString()} .. ${c.notAfter.toISOString()}`,
        actual: at.toISOString(),
      }));
    }
  });
  return out;
}
