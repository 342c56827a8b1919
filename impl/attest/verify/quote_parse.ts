// Parses an ECDSA-P256 TD quote (version 4, or version 5 with a TD report body) with the
// spec's structs into the parts the checks need. Any byte string gives either a quote or
// structured reasons: a parse failure never throws.
import type { DecodedStruct } from "../../spec/codec.ts";
import { quoteLayout } from "./quote_layout.ts";
import { fail, ok, reason, type Result } from "./reason.ts";
import { isAllZero } from "./byte_ops.ts";

export interface EcdsaQuote {
  version: number;
  header: DecodedStruct;
  /** QUOTE_BODY_TYPE of the body (a v4 quote's body is a TDX 1.0 report). */
  bodyType: number;
  bodyStruct: string;
  body: DecodedStruct;
  /** Header and body: the bytes the attestation key signs. */
  signedBytes: Uint8Array;
  /** Where the quote ends; bytes after it are padding or a trailer and are not verified. */
  quoteSize: number;
  trailingBytes: number;
  trailingAllZero: boolean;
  signature: Uint8Array;
  attestationKey: Uint8Array;
  outerCertType: number;
  qeReportBytes: Uint8Array;
  qeReport: DecodedStruct;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  innerCertType: number;
  /** The PCK certificate chain as PEM text bytes (certification data type 5). */
  pckChainPem: Uint8Array;
}

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

function decodeOrReason(
  name: string,
  bytes: Uint8Array,
  what: string,
): Result<{ value: DecodedStruct; size: number }> {
  try {
    return ok(quoteLayout().codec.decode(name, bytes));
  } catch (e) {
    return fail(reason("parse", `${what}: ${(e as Error).message}`, { field: name }));
  }
}

/** True when the first bytes say this is an ECDSA quote layout (v3, v4 or v5 header). */
export function looksLikeEcdsaQuote(bytes: Uint8Array): boolean {
  const L = quoteLayout();
  if (bytes.length < 2) return false;
  const version = bytes[0] | (bytes[1] << 8);
  return version === L.version.v3 || version === L.version.v4 || version === L.version.v5;
}

export function parseEcdsaQuote(bytes: Uint8Array): Result<EcdsaQuote> {
  const L = quoteLayout();
  const h = decodeOrReason("QUOTE_HEADER", bytes, "quote header");
  if (!h.ok) return h;
  const header = h.value.value;
  const version = header.version as number;
  const teeType = header.tee_type as number;
  const akType = header.attestation_key_type as number;

  if (version === L.version.v3 || teeType === L.teeType.sgx) {
    return fail(reason(
      "format",
      `not a TD quote: version ${version}, TEE type ${
        L.enumName("QUOTE_TEE_TYPE", teeType) ?? hex(teeType)
      } ` +
        `(an SGX enclave quote); this verifier checks TDX quotes`,
      { field: "header.tee_type", expected: hex(L.teeType.tdx), actual: hex(teeType) },
    ));
  }
  if (version !== L.version.v4 && version !== L.version.v5) {
    return fail(reason("format", `unsupported quote version ${version}`, {
      field: "header.version",
      expected: `${L.version.v4} or ${L.version.v5}`,
      actual: String(version),
    }));
  }
  if (teeType !== L.teeType.tdx) {
    return fail(reason("format", `unknown TEE type ${hex(teeType)}`, {
      field: "header.tee_type",
      expected: hex(L.teeType.tdx),
      actual: hex(teeType),
    }));
  }
  if (akType !== L.attestationKeyEcdsaP256) {
    return fail(reason("format", `unsupported attestation key type ${akType}`, {
      field: "header.attestation_key_type",
      expected: String(L.attestationKeyEcdsaP256),
      actual: String(akType),
    }));
  }

  let bodyType: number;
  let bodyBytes: Uint8Array;
  let signedEnd: number;
  let sigData: DecodedStruct;
  let sigDataLen: number;
  if (version === L.version.v4) {
    const q = decodeOrReason("QUOTE_V4", bytes, "version 4 quote");
    if (!q.ok) return q;
    bodyType = L.bodyType.td10;
    signedEnd = L.v4SignedEnd;
    bodyBytes = bytes.subarray(L.headerSize, signedEnd);
    sigData = q.value.value.signature_data as DecodedStruct;
    sigDataLen = q.value.value.signature_data_len as number;
  } else {
    const q = decodeOrReason("QUOTE_V5", bytes, "version 5 quote");
    if (!q.ok) return q;
    bodyType = q.value.value.body_type as number;
    const bodySize = q.value.value.body_size as number;
    signedEnd = L.v5BodyOffset + bodySize;
    bodyBytes = q.value.value.body as Uint8Array;
    sigData = q.value.value.signature_data as DecodedStruct;
    sigDataLen = q.value.value.signature_data_len as number;
    if (bodyType === L.bodyType.sgx) {
      return fail(reason("format", "not a TD quote: the version 5 body is an SGX enclave report", {
        field: "body_type",
        expected: `${L.bodyType.td10} or ${L.bodyType.td15}`,
        actual: String(bodyType),
      }));
    }
  }
  const bodyStruct = L.bodyStructByType.get(bodyType);
  if (!bodyStruct) {
    return fail(reason("format", `unsupported quote body type ${bodyType}`, {
      field: "body_type",
      expected: `${L.bodyType.td10} or ${L.bodyType.td15}`,
      actual: String(bodyType),
    }));
  }
  const b = decodeOrReason(bodyStruct, bodyBytes, "quote body");
  if (!b.ok) return b;
  if (b.value.size !== bodyBytes.length) {
    return fail(reason("parse", `body size ${bodyBytes.length} does not match ${bodyStruct}`, {
      field: "body_size",
      expected: String(b.value.size),
      actual: String(bodyBytes.length),
    }));
  }

  // The signature data must hold exactly one certification data block after the key, and
  // the QE report certification data exactly one PCK block after the auth data.
  const sigStart = signedEnd + L.sigDataLenSize;
  const quoteSize = sigStart + sigDataLen;
  const sigBytes = bytes.subarray(sigStart, quoteSize);
  const outer = decodeOrReason(
    "CERTIFICATION_DATA",
    sigBytes.subarray(L.sigCertDataOffset),
    "certification data",
  );
  if (!outer.ok) return outer;
  const outerLeft = sigBytes.length - L.sigCertDataOffset;
  if (outer.value.size !== outerLeft) {
    return fail(reason(
      "parse",
      `certification data takes ${outer.value.size} bytes, the signature data leaves ${outerLeft}`,
      {
        field: "signature_data.certification_data.size",
        expected: String(outerLeft - (outer.value.size - (outer.value.value.size as number))),
        actual: String(outer.value.value.size),
      },
    ));
  }
  const outerCertType = outer.value.value.type as number;
  const certData = outer.value.value.data as Uint8Array;
  if (outerCertType !== L.certData.qeReport) {
    return fail(reason("parse", "outer certification data is not QE report certification data", {
      field: "signature_data.certification_data.type",
      expected: String(L.certData.qeReport),
      actual: String(outerCertType),
    }));
  }
  const qc = decodeOrReason(
    "QE_REPORT_CERTIFICATION_DATA",
    certData,
    "QE report certification data",
  );
  if (!qc.ok) return qc;
  const qcv = qc.value.value;
  const qeAuthData = qcv.qe_auth_data as Uint8Array;
  const innerStart = L.qeAuthDataOffset + qeAuthData.length;
  const inner = decodeOrReason("CERTIFICATION_DATA", certData.subarray(innerStart), "PCK data");
  if (!inner.ok) return inner;
  const innerLeft = certData.length - innerStart;
  if (inner.value.size !== innerLeft) {
    return fail(reason(
      "parse",
      `PCK certification data takes ${inner.value.size} bytes, the QE report certification data leaves ${innerLeft}`,
      {
        field: "QE_REPORT_CERTIFICATION_DATA.certification_data.size",
        expected: String(innerLeft - (inner.value.size - (inner.value.value.size as number))),
        actual: String(inner.value.value.size),
      },
    ));
  }
  const innerCertType = inner.value.value.type as number;
  if (innerCertType !== L.certData.pckChain) {
    return fail(reason("parse", "inner certification data is not a PCK certificate chain", {
      field: "QE_REPORT_CERTIFICATION_DATA.certification_data.type",
      expected: String(L.certData.pckChain),
      actual: String(innerCertType),
    }));
  }
  const innerData = inner.value.value.data as Uint8Array;
  const trailing = bytes.subarray(quoteSize);
  return ok({
    version,
    header,
    bodyType,
    bodyStruct,
    body: b.value.value,
    signedBytes: bytes.subarray(0, signedEnd),
    quoteSize,
    trailingBytes: trailing.length,
    trailingAllZero: isAllZero(trailing),
    signature: sigData.quote_signature as Uint8Array,
    attestationKey: sigData.attestation_key as Uint8Array,
    outerCertType,
    qeReportBytes: certData.subarray(L.qeReportOffset, L.qeReportOffset + L.qeReportSize),
    qeReport: qcv.qe_report as DecodedStruct,
    qeReportSignature: qcv.qe_report_signature as Uint8Array,
    qeAuthData,
    innerCertType,
    pckChainPem: innerData,
  });
}
