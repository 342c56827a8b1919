// Checks collateral once: the TCB info and QE identity signatures by the Intel SGX TCB
// Signing certificate, that certificate's chain to the trusted root, and the root CA
// CRL's signature. The result is kept per Collateral object; what depends on the
// verification time (issueDate/nextUpdate, certificate and CRL validity) is checked on
// every call by collateralTimeReasons.
import { equalBytes } from "./byte_ops.ts";
import { type CheckedChain, type TrustAnchor, validityReasons, verifyChain } from "./cert_chain.ts";
import type { Collateral, SignedJson } from "./collateral.ts";
import { parseQeIdentity, parseTcbInfo, type QeIdentity, type TcbInfo } from "./collateral_json.ts";
import { type CrlInfo, crlSignedBy, parseCrl } from "./crl.ts";
import { verifyP256 } from "./ecdsa_p256.ts";
import { type Reason, reason } from "./reason.ts";
import { WeakMemo } from "./memo_cache.ts";

/** Intel names the certificate that signs TCB info and QE identity "Intel SGX TCB Signing". */
export const TCB_SIGNING_CN = "SGX TCB Signing";

export interface PreparedCollateral {
  tcbInfo?: TcbInfo;
  qeIdentity?: QeIdentity;
  tcbChain?: CheckedChain;
  qeChain?: CheckedChain;
  /** CRLs issued by the trusted root (signature checked). */
  rootCrls: CrlInfo[];
  /** Other CRLs: PCK CRLs, checked against the PCK chain's issuer at verification. */
  pckCrls: CrlInfo[];
  /** Failures that do not depend on the time. */
  reasons: Reason[];
}

const encoder = new TextEncoder();

async function signedDocument<T>(
  doc: SignedJson | undefined,
  chainDers: Uint8Array[] | undefined,
  root: TrustAnchor,
  what: "TCB info" | "QE identity",
  check: "tcb_info" | "qe_identity",
  parse: (text: string) => { ok: true; value: T } | { ok: false; reasons: Reason[] },
  reasons: Reason[],
): Promise<{ value?: T; chain?: CheckedChain }> {
  if (!doc) return {};
  if (!chainDers?.length) {
    reasons.push(reason(
      "collateral",
      `no issuer chain for the ${what} (add the Intel SGX TCB Signing certificate as PEM collateral)`,
      { field: doc.origin },
    ));
    return {};
  }
  const chain = await verifyChain(chainDers, root, {
    check: "collateral",
    what: `${what} issuer chain`,
    leafCommonName: TCB_SIGNING_CN,
  });
  reasons.push(...chain.reasons);
  if (chain.leafKey) {
    const good = await verifyP256(chain.leafKey, doc.signature, encoder.encode(doc.text));
    if (!good) {
      reasons.push(
        reason("collateral", `the ${what} signature does not verify with the TCB Signing key`, {
          field: doc.origin,
        }),
      );
    }
  }
  const parsed = parse(doc.text);
  if (!parsed.ok) {
    reasons.push(...parsed.reasons.map((r) => ({ ...r, check })));
    return { chain };
  }
  return { value: parsed.value, chain };
}

async function prepare(col: Collateral, root: TrustAnchor): Promise<PreparedCollateral> {
  const reasons: Reason[] = [];
  const tcb = await signedDocument(
    col.tcbInfo,
    col.tcbInfoIssuerChain ?? col.qeIdentityIssuerChain,
    root,
    "TCB info",
    "tcb_info",
    parseTcbInfo,
    reasons,
  );
  const qe = await signedDocument(
    col.qeIdentity,
    col.qeIdentityIssuerChain ?? col.tcbInfoIssuerChain,
    root,
    "QE identity",
    "qe_identity",
    parseQeIdentity,
    reasons,
  );
  const rootCrls: CrlInfo[] = [];
  const pckCrls: CrlInfo[] = [];
  for (const { der, origin } of col.crls) {
    const crl = parseCrl(der);
    if (!crl) {
      reasons.push(reason("crl", "not a DER X.509 CRL", { field: origin }));
      continue;
    }
    if (equalBytes(crl.issuer, root.cert.subject)) {
      if (!(await crlSignedBy(crl, root.spkiKey, root.key))) {
        reasons.push(
          reason("crl", "the root CA CRL's signature does not verify with the root key", {
            field: origin,
          }),
        );
      }
      rootCrls.push(crl);
    } else {
      pckCrls.push(crl);
    }
  }
  return {
    tcbInfo: tcb.value,
    qeIdentity: qe.value,
    tcbChain: tcb.chain,
    qeChain: qe.chain,
    rootCrls,
    pckCrls,
    reasons,
  };
}

const prepared = new WeakMemo<Collateral, Map<string, Promise<PreparedCollateral>>>();

/** The collateral checked under `root`, once per collateral object and root. */
export function prepareCollateral(col: Collateral, root: TrustAnchor): Promise<PreparedCollateral> {
  const byRoot = prepared.get(col, () => new Map());
  let p = byRoot.get(root.spkiKey);
  if (!p) {
    p = prepare(col, root);
    byRoot.set(root.spkiKey, p);
  }
  return p;
}

function windowReason(
  check: "tcb_info" | "qe_identity" | "crl",
  what: string,
  from: Date,
  to: Date | undefined,
  at: Date,
): Reason | undefined {
  if (at >= from && (to === undefined || at <= to)) return undefined;
  return reason(check, at < from ? `${what} is not valid yet` : `${what} has expired`, {
    field: what,
    expected: `${from.toISOString()} .. ${to?.toISOString() ?? "open"}`,
    actual: at.toISOString(),
  });
}

/** Time-dependent collateral checks at `at`, and revocation of the collateral's signers. */
export function collateralTimeReasons(
  p: PreparedCollateral,
  root: TrustAnchor,
  at: Date,
): Reason[] {
  const out: Reason[] = [];
  const push = (r: Reason | undefined) => r && out.push(r);
  if (p.tcbInfo) {
    push(
      windowReason(
        "tcb_info",
        "tcbInfo issueDate..nextUpdate",
        p.tcbInfo.issueDate,
        p.tcbInfo.nextUpdate,
        at,
      ),
    );
  }
  if (p.qeIdentity) {
    push(
      windowReason(
        "qe_identity",
        "enclaveIdentity issueDate..nextUpdate",
        p.qeIdentity.issueDate,
        p.qeIdentity.nextUpdate,
        at,
      ),
    );
  }
  const chains = [p.tcbChain, p.qeChain].filter((c, i, a): c is CheckedChain =>
    !!c && a.indexOf(c) === i
  );
  for (const chain of chains) {
    out.push(
      ...validityReasons([...chain.certs, root.cert], at, "collateral", "TCB Signing chain"),
    );
    for (const crl of p.rootCrls) {
      for (const c of chain.certs) {
        if (crl.revoked.has(c.serialHex)) {
          out.push(reason("crl", "the TCB Signing certificate is revoked by the root CA CRL", {
            field: `${c.subjectCN} serial ${c.serialHex}`,
          }));
        }
      }
    }
  }
  for (const crl of [...p.rootCrls, ...p.pckCrls]) {
    push(
      windowReason(
        "crl",
        `CRL ${crl.issuerCN} thisUpdate..nextUpdate`,
        crl.thisUpdate,
        crl.nextUpdate,
        at,
      ),
    );
  }
  return out;
}
