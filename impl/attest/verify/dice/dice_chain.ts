// The certificate chain of a DICE quote, from its unprotected header to a trusted P-384
// root: x5chain is taken in its order (leaf first, RFC 9360), x5bag is ordered by building
// the path from the one certificate that issues no other (the leaf) up to the root. Each
// link: names chain, the issuer is a CA allowed to sign certificates, path lengths hold,
// the signature verifies with ECDSA P-384/SHA-384; the leaf is not a CA and may sign. A
// copy of the trusted root in the header is allowed; any other certificate off the path is
// refused. The time-independent result is kept per chain bytes; validity at the
// verification time is checked on every call.
import { bytesKey, equalBytes } from "../byte_ops.ts";
import { type TrustAnchor, validityReasons } from "../cert_chain.ts";
import { MemoCache } from "../memo_cache.ts";
import { type Reason, reason } from "../reason.ts";
import { type CertInfo, parseCertificate } from "../x509_cert.ts";
import { certSignature, KEY_USAGE_BIT, keyUsage, signedWithEcdsaSha384 } from "./dice_cert.ts";
import { derSignatureToRawP384, importSpkiP384Key, verifyEs384 } from "./es384.ts";

export type CertLabel = "x5bag" | "x5chain";

export interface DiceChain {
  /** The certification path, leaf first, the trust anchor excluded. */
  path: CertInfo[];
  leafKey: CryptoKey | undefined;
  reasons: Reason[];
}

/** X.509 version field value of a v3 certificate. */
const X509_V3 = 2;

const isRoot = (c: CertInfo, root: TrustAnchor) =>
  equalBytes(c.spki, root.cert.spki) && equalBytes(c.subject, root.cert.subject);
const selfIssued = (c: CertInfo) => equalBytes(c.subject, c.issuer);

/** Orders the certificates leaf first, or says why they do not form one path. */
function order(
  certs: CertInfo[],
  label: CertLabel,
  root: TrustAnchor,
  bad: (message: string, detail?: Parameters<typeof reason>[2]) => void,
): CertInfo[] | undefined {
  const field = (c: CertInfo) => `unprotected.${label}[${certs.indexOf(c)}] (${c.subjectCN})`;
  if (label === "x5chain") {
    const path = [...certs];
    if (path.length > 1 && isRoot(path[path.length - 1], root)) path.pop();
    const stray = path.find((c) => isRoot(c, root));
    if (stray) {
      bad("the trusted root appears inside the chain", { field: field(stray) });
      return undefined;
    }
    return path;
  }
  const bag = certs.filter((c) => !isRoot(c, root));
  if (bag.length === 0) {
    bad("the bag holds no certificate besides the trusted root");
    return undefined;
  }
  // The leaf issues no other certificate of the bag.
  const leaves = bag.filter((c) =>
    !bag.some((o) => o !== c && !selfIssued(o) && equalBytes(o.issuer, c.subject))
  );
  if (leaves.length !== 1) {
    bad("cannot tell the end-entity certificate in the bag", {
      expected: "exactly one certificate that issues no other",
      actual: leaves.length ? leaves.map((c) => c.subjectCN).join(", ") : "none",
    });
    return undefined;
  }
  const path = [leaves[0]];
  for (;;) {
    const last = path[path.length - 1];
    if (equalBytes(last.issuer, root.cert.subject) || path.length > bag.length) break;
    const parent = bag.find((c) => !path.includes(c) && equalBytes(c.subject, last.issuer));
    if (!parent) break;
    path.push(parent);
  }
  const off = bag.filter((c) => !path.includes(c));
  if (off.length) {
    bad("a certificate in the bag is not on the path to the trusted root", {
      field: field(off[0]),
    });
    return undefined;
  }
  return path;
}

async function check(ders: Uint8Array[], label: CertLabel, root: TrustAnchor): Promise<DiceChain> {
  const reasons: Reason[] = [];
  const bad = (message: string, detail: Parameters<typeof reason>[2] = {}) =>
    reasons.push(reason("dice_chain", `DICE chain: ${message}`, detail));
  const certs: CertInfo[] = [];
  for (let i = 0; i < ders.length; i++) {
    const c = parseCertificate(ders[i]);
    if (!c) {
      bad(`certificate ${i} is not a DER X.509 certificate`, {
        field: `unprotected.${label}[${i}]`,
      });
      return { path: [], leafKey: undefined, reasons };
    }
    certs.push(c);
  }
  const path = order(certs, label, root, bad);
  if (!path || path.length === 0) return { path: [], leafKey: undefined, reasons };
  const keys = await Promise.all(path.map((c) => importSpkiP384Key(c.spki)));
  const checks: Promise<void>[] = [];
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    const parent = i + 1 < path.length ? path[i + 1] : root.cert;
    const parentKey = i + 1 < path.length ? keys[i + 1] : root.key;
    const field = `certificate[${i}] (${c.subjectCN})`;
    if (c.version !== X509_V3) {
      bad("not an X.509 v3 certificate", { field, actual: `v${c.version + 1}` });
    }
    if (!keys[i]) bad("public key is not EC P-384", { field });
    if (!equalBytes(c.issuer, parent.subject)) {
      bad("issuer name does not match the next certificate's subject", {
        field,
        expected: parent.subjectCN,
        actual: c.issuerCN,
      });
    }
    const usage = keyUsage(c);
    if (usage === null) bad("malformed key usage extension", { field });
    if (i === 0) {
      if (c.isCA) bad("the quote signing certificate is a CA certificate", { field });
      if (usage && !usage.has(KEY_USAGE_BIT.digitalSignature)) {
        bad("the quote signing key may not sign (key usage lacks digitalSignature)", { field });
      }
    } else {
      if (!c.isCA) bad("an issuing certificate is not a CA (basic constraints)", { field });
      if (usage && !usage.has(KEY_USAGE_BIT.keyCertSign)) {
        bad("an issuing certificate may not sign certificates (key usage)", { field });
      }
      if (c.pathLen !== undefined && c.pathLen < i - 1) {
        bad("path length constraint exceeded", {
          field,
          expected: `<= ${c.pathLen}`,
          actual: String(i - 1),
        });
      }
    }
    if (parent === root.cert && root.cert.pathLen !== undefined && root.cert.pathLen < i) {
      bad("the root's path length constraint is exceeded", { field });
    }
    const sig = certSignature(c, derSignatureToRawP384);
    if (!signedWithEcdsaSha384(c)) {
      bad("the signature algorithm is not ecdsa-with-SHA384 in both places", { field });
    } else if (!sig) {
      bad("signature is not a P-384 ECDSA signature value", { field });
    } else if (parentKey) {
      checks.push(
        verifyEs384(parentKey, sig, c.tbs).then((good) => {
          if (!good) bad("signature does not verify with the issuer's key", { field });
        }),
      );
    }
  }
  await Promise.all(checks);
  return { path, leafKey: keys[0], reasons };
}

const chains = new MemoCache<string, Promise<DiceChain>>(1024, "platform");

export function checkDiceChain(
  ders: Uint8Array[],
  label: CertLabel,
  root: TrustAnchor,
): Promise<DiceChain> {
  const key = `${root.spkiKey}\u0000${label}\u0000${ders.map(bytesKey).join("\u0000")}`;
  return chains.get(key, () => check(ders, label, root));
}

export function diceValidityReasons(chain: DiceChain, root: TrustAnchor, at: Date): Reason[] {
  return validityReasons([...chain.path, root.cert], at, "dice_chain", "DICE chain");
}
