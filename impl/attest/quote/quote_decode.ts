// Decodes an ECDSA TD quote (version 4 or 5) with the spec's layouts: header, the TD
// report body (TDX 1.0 or 1.5), the quote signature and attestation key, and the
// certification data down to the QE report and the PEM PCK chain. It checks the
// structure only; signatures and chains are a verifier's job.
import type { Spec } from "../../spec/mod.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { decoding, fail, type Result } from "../attest_error.ts";
import { enumName, enumNumber } from "../spec_facts.ts";

export interface QeReportCertification {
  /** The QE's SGX_REPORT_BODY, decoded. */
  report: DecodedStruct;
  /** The 384 report bytes the PCK signed. */
  reportBytes: Uint8Array;
  reportSignature: Uint8Array;
  authData: Uint8Array;
  /** Inner certification data (type 5 = PEM PCK chain). */
  certificationType: number;
  certificationData: Uint8Array;
}

export interface DecodedQuote {
  version: number;
  header: DecodedStruct;
  /** QUOTE_BODY_TYPE of the body (a v4 quote's body is always TD_REPORT_1_0). */
  bodyType: number;
  bodyStruct: "TD_QUOTE_BODY_1_0" | "TD_QUOTE_BODY_1_5";
  body: DecodedStruct;
  /** Header and body: the bytes the attestation key signed. */
  signedBytes: Uint8Array;
  quoteSignature: Uint8Array;
  /** Raw P-256 point X || Y. */
  attestationKey: Uint8Array;
  certificationType: number;
  certificationData: Uint8Array;
  /** Present when the certification data is QE_REPORT_CERTIFICATION_DATA (type 6). */
  qeReport?: QeReportCertification;
  /** The PEM chain text, when the inner certification data is PCK_CERT_CHAIN (type 5). */
  pckChainPem?: string;
  /** Bytes the quote takes; input past this (zero padding) is ignored. */
  size: number;
}

function bodyStructOf(
  spec: Spec,
  bodyType: number,
): "TD_QUOTE_BODY_1_0" | "TD_QUOTE_BODY_1_5" | undefined {
  if (bodyType === enumNumber(spec, "QUOTE_BODY_TYPE", "TD_REPORT_1_0")) return "TD_QUOTE_BODY_1_0";
  if (bodyType === enumNumber(spec, "QUOTE_BODY_TYPE", "TD_REPORT_1_5")) return "TD_QUOTE_BODY_1_5";
  return undefined;
}

export function decodeQuote(spec: Spec, bytes: Uint8Array): Result<DecodedQuote> {
  const codec = new StructCodec(spec);
  const hdr = decoding(0, () => codec.decode("QUOTE_HEADER", bytes));
  if (!hdr.ok) return hdr;
  const header = hdr.value.value;
  const version = header.version as number;
  const v4 = enumNumber(spec, "QUOTE_VERSION", "V4");
  const v5 = enumNumber(spec, "QUOTE_VERSION", "V5");
  if (header.tee_type !== enumNumber(spec, "QUOTE_TEE_TYPE", "TDX")) {
    const tee = enumName(spec, "QUOTE_TEE_TYPE", header.tee_type as number) ?? "unknown";
    return fail(
      "not-tdx",
      "QUOTE_HEADER.tee_type",
      `the quote's TEE type is ${header.tee_type} (${tee}), not TDX`,
      0,
    );
  }
  if (version !== v4 && version !== v5) {
    return fail(
      "unsupported",
      "QUOTE_HEADER.version",
      `quote version ${version}; TD quotes are version ${v4} or ${v5}`,
      0,
    );
  }
  if (header.attestation_key_type !== enumNumber(spec, "ATTESTATION_KEY_TYPE", "ECDSA_P256")) {
    return fail(
      "unsupported",
      "QUOTE_HEADER.attestation_key_type",
      `attestation key type ${header.attestation_key_type}; only ECDSA_P256 is handled`,
      0,
    );
  }
  const whole = decoding(0, () => codec.decode(version === v4 ? "QUOTE_V4" : "QUOTE_V5", bytes));
  if (!whole.ok) return whole;
  const q = whole.value.value;
  let bodyType: number;
  let bodyStruct: DecodedQuote["bodyStruct"];
  let body: DecodedStruct;
  let bodyEnd: number;
  const headerSize = spec.struct("QUOTE_HEADER").size as number;
  if (version === v4) {
    bodyType = enumNumber(spec, "QUOTE_BODY_TYPE", "TD_REPORT_1_0");
    bodyStruct = "TD_QUOTE_BODY_1_0";
    body = q.body as DecodedStruct;
    bodyEnd = headerSize + (spec.struct(bodyStruct).size as number);
  } else {
    bodyType = q.body_type as number;
    const s = bodyStructOf(spec, bodyType);
    if (!s) {
      const name = enumName(spec, "QUOTE_BODY_TYPE", bodyType) ?? "unknown";
      return fail(
        bodyType === enumNumber(spec, "QUOTE_BODY_TYPE", "SGX_ENCLAVE_REPORT")
          ? "not-tdx"
          : "unsupported",
        "QUOTE_V5.body_type",
        `body type ${bodyType} (${name}) is not a TD report`,
        headerSize,
      );
    }
    bodyStruct = s;
    const raw = q.body as Uint8Array;
    if (raw.length !== spec.struct(s).size) {
      return fail(
        "invalid",
        "QUOTE_V5.body_size",
        `body size ${raw.length} does not match ${s} (${spec.struct(s).size} bytes)`,
        headerSize,
      );
    }
    body = codec.decode(s, raw).value;
    bodyEnd = headerSize + (spec.struct("QUOTE_BODY_DESCRIPTOR_V5").min_size as number) +
      raw.length;
  }
  const sig = q.signature_data as DecodedStruct;
  const cert = sig.certification_data as DecodedStruct;
  const out: DecodedQuote = {
    version,
    header,
    bodyType,
    bodyStruct,
    body,
    signedBytes: bytes.slice(0, bodyEnd),
    quoteSignature: sig.quote_signature as Uint8Array,
    attestationKey: sig.attestation_key as Uint8Array,
    certificationType: cert.type as number,
    certificationData: cert.data as Uint8Array,
    size: whole.value.size,
  };
  if (
    out.certificationType ===
      enumNumber(spec, "CERTIFICATION_DATA_TYPE", "QE_REPORT_CERTIFICATION_DATA")
  ) {
    const qe = decoding(
      bodyEnd,
      () => codec.decode("QE_REPORT_CERTIFICATION_DATA", out.certificationData),
    );
    if (!qe.ok) return qe;
    const v = qe.value.value;
    const inner = v.certification_data as DecodedStruct;
    const reportSize = spec.struct("SGX_REPORT_BODY").size as number;
    out.qeReport = {
      report: v.qe_report as DecodedStruct,
      reportBytes: out.certificationData.slice(0, reportSize),
      reportSignature: v.qe_report_signature as Uint8Array,
      authData: v.qe_auth_data as Uint8Array,
      certificationType: inner.type as number,
      certificationData: inner.data as Uint8Array,
    };
    if (inner.type === enumNumber(spec, "CERTIFICATION_DATA_TYPE", "PCK_CERT_CHAIN")) {
      out.pckChainPem = new TextDecoder().decode(inner.data as Uint8Array).replace(/\0+$/, "");
    }
  }
  return { ok: true, value: out };
}
