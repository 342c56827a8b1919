// The ECDSA-P256 TD quote (versions 4 and 5): parse, then the checks of Intel's quote
// verification - quote signature by the attestation key, QE report signature by the PCK,
// the QE report binding of the attestation key, the PCK chain to the trusted root and its
// revocation, collateral signatures and validity, the TCB status - and the TD policy
// (debug TD, expected values). Independent signature checks run side by side.
import { createHash } from "node:crypto";
import type { DecodedStruct } from "../../spec/codec.ts";
import { decodeBits } from "../../spec/bits.ts";
import { bytesToHex } from "../../spec/hex.ts";
import { theSpec } from "../../spec/mod.ts";
import { concatBytes, equalBytes, isAllZero } from "./byte_ops.ts";
import {
  collateralTimeReasons,
  prepareCollateral,
  type PreparedCollateral,
} from "./collateral_verify.ts";
import { importRawP256Key, verifyP256 } from "./ecdsa_p256.ts";
import { checkPckChain, pckRevocationReasons, pckValidityReasons } from "./pck_chain.ts";
import { type EcdsaQuote, looksLikeEcdsaQuote, parseEcdsaQuote } from "./quote_parse.ts";
import { quoteLayout } from "./quote_layout.ts";
import { type CheckName, type CheckOutcome, type Reason, reason } from "./reason.ts";
import { evaluateTcb, type TcbEvaluation } from "./tcb_evaluation.ts";
import { debugReasons, expectReasons } from "./td_policy.ts";
import { intelSgxRoot } from "./trust_root.ts";
import type { DecodedView, QuoteVerification, VerifyOptions } from "./verification.ts";

export const ECDSA_FORMAT = "ecdsa-p256-quote";

function printable(v: unknown): string | number {
  if (v instanceof Uint8Array) return bytesToHex(v);
  if (typeof v === "bigint") return `0x${v.toString(16).padStart(16, "0")}`;
  if (typeof v === "number") return v;
  return String(v);
}

function section(s: DecodedStruct, skip: string[] = []): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(s)) {
    if (skip.includes(k) || /^reserved/.test(k)) continue;
    if (typeof v === "object" && !(v instanceof Uint8Array)) continue;
    out[k] = printable(v);
  }
  return out;
}

function flags(bitfield: string, value: bigint): string {
  const set = theSpec().bitfield(bitfield).fields
    .filter((f) => !f.reserved && decodeBits([f], value).fields[f.name] !== 0n)
    .map((f) => f.name);
  const undef = decodeBits(theSpec().bitfield(bitfield).fields, value).undefinedBits;
  if (undef) set.push(`undefined bits 0x${undef.toString(16)}`);
  return set.join(" ");
}

function decodedView(q: EcdsaQuote, quoteBytes: number): DecodedView {
  const L = quoteLayout();
  const header = section(q.header);
  header.version_name = L.enumName("QUOTE_VERSION", q.version) ?? "";
  header.tee_type_name = L.enumName("QUOTE_TEE_TYPE", q.header.tee_type as number) ?? "";
  const body = section(q.body);
  body.td_attributes_flags = flags("TD_ATTRIBUTES", q.body.td_attributes as bigint);
  body.xfam_flags = flags("XFAM", q.body.xfam as bigint);
  return {
    quote: {
      input_size: quoteBytes,
      quote_size: q.quoteSize,
      trailing_bytes: q.trailingBytes,
      trailing: q.trailingBytes === 0
        ? "none"
        : q.trailingAllZero
        ? "zero padding"
        : "non-zero trailer (ignored)",
      body_type: q.bodyType,
      body_struct: q.bodyStruct,
    },
    header,
    body,
    signature: {
      quote_signature: bytesToHex(q.signature),
      attestation_key: bytesToHex(q.attestationKey),
      certification_data_type: `${q.outerCertType} (${
        L.enumName("CERTIFICATION_DATA_TYPE", q.outerCertType)
      })`,
      pck_certification_data_type: `${q.innerCertType} (${
        L.enumName("CERTIFICATION_DATA_TYPE", q.innerCertType)
      })`,
      qe_report_signature: bytesToHex(q.qeReportSignature),
      qe_auth_data: bytesToHex(q.qeAuthData),
      pck_chain_pem_bytes: q.pckChainPem.length,
    },
    qe_report: section(q.qeReport),
  };
}

/** QE report REPORTDATA = SHA-256(attestation key || QE auth data), zero-padded. */
function qeReportDataReasons(q: EcdsaQuote): Reason[] {
  const want = createHash("sha256").update(concatBytes(q.attestationKey, q.qeAuthData)).digest();
  const rd = q.qeReport.report_data as Uint8Array;
  const head = rd.subarray(0, want.length);
  if (equalBytes(head, want) && isAllZero(rd.subarray(want.length))) return [];
  return [
    reason("qe_report_data", "the QE report does not bind the attestation key and QE auth data", {
      field: "qe_report.report_data",
      expected: `${bytesToHex(want)} then zeros`,
      actual: bytesToHex(rd),
    }),
  ];
}

async function quoteSignatureReasons(q: EcdsaQuote): Promise<Reason[]> {
  const key = await importRawP256Key(q.attestationKey);
  if (!key) {
    return [reason("quote_signature", "the attestation key is not a P-256 point", {
      field: "signature_data.attestation_key",
    })];
  }
  if (await verifyP256(key, q.signature, q.signedBytes)) return [];
  return [
    reason("quote_signature", "the quote signature does not verify with the attestation key", {
      field: "signature_data.quote_signature",
    }),
  ];
}

const ORDER: CheckName[] = [
  "parse",
  "quote_signature",
  "qe_report_signature",
  "qe_report_data",
  "pck_chain",
  "crl",
  "collateral",
  "tcb_info",
  "tdx_module",
  "qe_identity",
  "tcb_level",
  "tcb_status",
  "debug",
  "expect",
];

type Note = { status: "pass" | "skip"; note: string };

function outcomes(reasons: Reason[], notes: Map<CheckName, Note>): CheckOutcome[] {
  return ORDER.map((check) => {
    if (reasons.some((r) => r.check === check)) return { check, status: "fail" };
    const n = notes.get(check);
    return n ? { check, status: n.status, note: n.note } : { check, status: "pass" };
  });
}

async function verify(bytes: Uint8Array, options: VerifyOptions): Promise<QuoteVerification> {
  const parsed = parseEcdsaQuote(bytes);
  if (!parsed.ok) {
    const isFormat = parsed.reasons.some((r) => r.check === "format");
    return {
      ok: false,
      format: ECDSA_FORMAT,
      formatDescription: ecdsaQuoteFormat.description,
      checks: [{ check: isFormat ? "format" : "parse", status: "fail" }],
      reasons: parsed.reasons,
    };
  }
  const q = parsed.value;
  const { root, at } = options;
  const notes = new Map<CheckName, Note>();
  const skip = (c: CheckName, note: string) => notes.set(c, { status: "skip", note });
  const passNote = (c: CheckName, note: string) => notes.set(c, { status: "pass", note });

  const quoteSig = quoteSignatureReasons(q);
  const chainP = checkPckChain(q.pckChainPem, root);
  const qeSig = chainP.then(async (chain): Promise<Reason[]> => {
    if (!chain.leafKey) return [];
    if (await verifyP256(chain.leafKey, q.qeReportSignature, q.qeReportBytes)) return [];
    return [
      reason("qe_report_signature", "the QE report signature does not verify with the PCK key", {
        field: "QE_REPORT_CERTIFICATION_DATA.qe_report_signature",
      }),
    ];
  });
  const prepP: Promise<PreparedCollateral | undefined> = options.collateral
    ? prepareCollateral(options.collateral, root)
    : Promise.resolve(undefined);
  const reasons: Reason[] = [...qeReportDataReasons(q)];
  const [sigReasons, qeSigReasons, chain, prepared] = await Promise.all([
    quoteSig,
    qeSig,
    chainP,
    prepP,
  ]);
  reasons.push(
    ...sigReasons,
    ...qeSigReasons,
    ...chain.reasons,
    ...pckValidityReasons(chain, root, at),
  );
  if (!chain.leafKey && chain.certs.length) {
    skip("qe_report_signature", "no usable PCK key");
  }
  if (chain.sgx && !chain.sgx.ok) reasons.push(...chain.sgx.reasons);

  let tcb: TcbEvaluation | undefined;
  if (!prepared) {
    for (
      const c of [
        "crl",
        "collateral",
        "tcb_info",
        "tdx_module",
        "qe_identity",
        "tcb_level",
        "tcb_status",
      ] as const
    ) {
      skip(c, "no collateral given");
    }
  } else {
    reasons.push(...prepared.reasons, ...collateralTimeReasons(prepared, root, at));
    if (prepared.rootCrls.length + prepared.pckCrls.length === 0) {
      skip("crl", "no CRL in the collateral");
    } else {
      const rev = await pckRevocationReasons(chain, prepared);
      reasons.push(...rev.reasons);
      if (rev.notes.length) passNote("crl", rev.notes.join(", "));
    }
    const tcbInfo = prepared.tcbInfo;
    const qeIdentity = prepared.qeIdentity;
    if (!options.collateral!.tcbInfo || !options.collateral!.qeIdentity) {
      reasons.push(reason(
        "collateral",
        "a TCB status needs both the TCB info and the QE identity",
        { field: options.collateral!.tcbInfo ? "qe_identity" : "tcb_info" },
      ));
    } else if (tcbInfo && qeIdentity && chain.sgx?.ok) {
      const ev = evaluateTcb(q, chain.sgx.value, tcbInfo, qeIdentity);
      reasons.push(...ev.reasons);
      tcb = ev.evaluation;
      if (tcb?.status === "Revoked") {
        reasons.push(reason("tcb_status", "the platform TCB is revoked", {
          field: "tcb_status",
          actual: tcb.status,
        }));
      }
    }
    if (!tcb) skip("tcb_status", "no TCB status");
  }

  reasons.push(...debugReasons(q.body, options.allowDebug));
  if (options.allowDebug) passNote("debug", "debug TD allowed");
  reasons.push(...expectReasons(options.expect, q.bodyStruct, q.body, tcb?.status));
  if (options.expect.length === 0) skip("expect", "nothing expected");

  const decoded = decodedView(q, bytes.length);
  if (chain.sgx?.ok) {
    const s = chain.sgx.value;
    decoded.pck = {
      leaf_subject: chain.certs[0]?.subjectCN ?? "",
      issuer: chain.certs[0]?.issuerCN ?? "",
      fmspc: bytesToHex(s.fmspc),
      pce_id: bytesToHex(s.pceId),
      pce_svn: s.pceSvn,
      tcb_components: s.tcbComponents.join(","),
      cpu_svn: bytesToHex(s.cpuSvn),
    };
  }
  return {
    ok: reasons.length === 0,
    format: ECDSA_FORMAT,
    formatDescription: ecdsaQuoteFormat.description,
    decoded,
    checks: outcomes(reasons, notes),
    reasons,
    tcb,
  };
}

export const ecdsaQuoteFormat = {
  name: ECDSA_FORMAT,
  description: "ECDSA-P256 quote, versions 4 and 5 (DCAP)",
  detect: looksLikeEcdsaQuote,
  verify,
  defaultRoot: intelSgxRoot,
};
