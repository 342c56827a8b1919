// The PCK certificate chain carried in the quote (certification data type 5, PEM): parsed
// and checked against the trusted root once per distinct chain text; validity at the
// verification time and revocation by the given CRLs on every call.
import { bytesKey, equalBytes } from "./byte_ops.ts";
import {
  type CheckedChain,
  type TrustAnchor,
  validityReasons,
  verifyChainUncached,
} from "./cert_chain.ts";
import { crlSignedBy } from "./crl.ts";
import type { PreparedCollateral } from "./collateral_verify.ts";
import { pemCertificates } from "./pem.ts";
import { type Reason, reason } from "./reason.ts";
import { parseSgxExtensions, type SgxExtensions } from "./sgx_extensions.ts";
import type { Result } from "./reason.ts";
import { MemoCache } from "./memo_cache.ts";

/** Intel names PCK leaf certificates "Intel SGX PCK Certificate". */
export const PCK_LEAF_CN = "SGX PCK Certificate";

export interface PckChain extends CheckedChain {
  sgx: Result<SgxExtensions> | undefined;
}

async function check(pem: Uint8Array, root: TrustAnchor): Promise<PckChain> {
  const ders = pemCertificates(new TextDecoder().decode(pem));
  if (!ders || ders.length === 0) {
    return {
      certs: [],
      keys: [],
      leafKey: undefined,
      sgx: undefined,
      reasons: [reason("pck_chain", "the PCK certificate chain holds no readable PEM certificate", {
        field: "QE_REPORT_CERTIFICATION_DATA.certification_data.data",
      })],
    };
  }
  const chain = await verifyChainUncached(ders, root, {
    check: "pck_chain",
    what: "PCK chain",
    leafCommonName: PCK_LEAF_CN,
  });
  return {
    ...chain,
    sgx: chain.certs.length ? parseSgxExtensions(chain.certs[0].extensions) : undefined,
  };
}

const chains = new MemoCache<string, Promise<PckChain>>(1024, "platform");

export function checkPckChain(pem: Uint8Array, root: TrustAnchor): Promise<PckChain> {
  const key = `${root.spkiKey}\u0000${bytesKey(pem)}`;
  return chains.get(key, () => check(pem, root));
}

export function pckValidityReasons(chain: PckChain, root: TrustAnchor, at: Date): Reason[] {
  return validityReasons([...chain.certs, root.cert], at, "pck_chain", "PCK chain");
}

/** Revocation of the PCK chain by the collateral's CRLs; notes say what was not checked. */
export async function pckRevocationReasons(
  chain: PckChain,
  col: PreparedCollateral,
): Promise<{ reasons: Reason[]; notes: string[] }> {
  const reasons: Reason[] = [];
  const notes: string[] = [];
  if (chain.certs.length === 0) return { reasons, notes };
  const leaf = chain.certs[0];
  if (col.rootCrls.length === 0) notes.push("no root CA CRL");
  for (const crl of col.rootCrls) {
    for (const c of chain.certs.slice(1)) {
      if (crl.revoked.has(c.serialHex)) {
        reasons.push(reason("crl", "a PCK chain CA certificate is revoked by the root CA CRL", {
          field: `${c.subjectCN} serial ${c.serialHex}`,
        }));
      }
    }
  }
  if (col.pckCrls.length === 0) notes.push("no PCK CRL");
  const issuerIndex = chain.certs.length > 1 ? 1 : -1;
  for (const crl of col.pckCrls) {
    if (!equalBytes(crl.issuer, leaf.issuer) || issuerIndex < 0) {
      reasons.push(reason("crl", "the PCK CRL is not issued by the PCK certificate's issuer", {
        field: "pck_crl.issuer",
        expected: leaf.issuerCN,
        actual: crl.issuerCN,
      }));
      continue;
    }
    const key = chain.keys[issuerIndex];
    const issuer = chain.certs[issuerIndex];
    if (!key || !(await crlSignedBy(crl, bytesKey(issuer.spki), key))) {
      reasons.push(reason("crl", "the PCK CRL's signature does not verify with the PCK CA key", {
        field: "pck_crl.signature",
      }));
      continue;
    }
    if (crl.revoked.has(leaf.serialHex)) {
      reasons.push(reason("crl", "the PCK certificate is revoked by the PCK CRL", {
        field: "pck_certificate.serial",
        actual: leaf.serialHex,
      }));
    }
  }
  return { reasons, notes };
}
