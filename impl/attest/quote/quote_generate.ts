// ECDSA TD quote generation, the job of Intel's TD quoting enclave done with test keys:
// the TDREPORT becomes the body, the attestation key signs header and body, a QE report
// binds the attestation key (REPORTDATA = SHA-256(key || QE auth data)) and is signed
// by the PCK, and the PCK chain rides along as certification data type 6 wrapping
// type 5. Version 4 carries a TDX 1.0 body; version 5 a typed body, TDX 1.0 or 1.5.
import { createHash } from "node:crypto";
import type { Spec } from "../../spec/mod.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { fail, type Result } from "../attest_error.ts";
import { enumNumber, fieldSize } from "../spec_facts.ts";
import { deriveKey, type SigningKey } from "./seed_keys.ts";
import { signRaw } from "./ecdsa_p256.ts";
import { makeTestPki, type TestPki } from "./test_pki.ts";
import { type TestPlatform, testPlatform } from "./test_platform.ts";
import {
  decodeTdreport,
  quoteBodyFromTdreport,
  type TdBodyStruct,
  type TdreportCheck,
} from "./td_quote_body.ts";

export interface QuoteRequest extends TdreportCheck {
  /** QUOTE_VERSION: 4 or 5 (default 4). */
  version?: number;
  /** Body of a version 5 quote: TDX "1.0" or "1.5" (default "1.5"). A v4 body is always 1.0. */
  body?: "1.0" | "1.5";
}

export interface QuoteGenerator {
  readonly seed: Uint8Array;
  readonly platform: TestPlatform;
  readonly pki: TestPki;
  readonly attestationKey: SigningKey;
  /** A signed quote for a 1024-byte TDREPORT, or why there can be none. */
  generate(tdreport: Uint8Array, request?: QuoteRequest): Result<Uint8Array>;
}

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** The QE's SGX report: its identity, and REPORTDATA binding the attestation key. */
function qeReport(spec: Spec, platform: TestPlatform, attestationKey: SigningKey): DecodedStruct {
  const qe = platform.qe;
  const reportData = new Uint8Array(fieldSize(spec, "SGX_REPORT_BODY", "report_data"));
  reportData.set(sha256(attestationKey.point, qe.authData));
  return {
    cpu_svn: qe.cpuSvn,
    misc_select: qe.miscSelect,
    attributes: qe.attributes,
    mr_enclave: qe.mrEnclave,
    mr_signer: qe.mrSigner,
    isv_prod_id: qe.isvProdId,
    isv_svn: qe.isvSvn,
    report_data: reportData,
  };
}

function header(
  spec: Spec,
  codec: StructCodec,
  version: number,
  attestationKey: SigningKey,
): DecodedStruct {
  // User data is the key owner's to choose: here a 16-byte ID of the attestation key,
  // then zeros, the shape of the real quotes' user data.
  const userData = new Uint8Array(fieldSize(spec, "QUOTE_HEADER", "user_data"));
  userData.set(sha256(attestationKey.point).subarray(0, userData.length - 4));
  return {
    version,
    attestation_key_type: enumNumber(spec, "ATTESTATION_KEY_TYPE", "ECDSA_P256"),
    tee_type: enumNumber(spec, "QUOTE_TEE_TYPE", "TDX"),
    qe_vendor_id: codec.encode("INTEL_QE_VENDOR_ID", {}),
    user_data: userData,
  };
}

export function makeQuoteGenerator(
  spec: Spec,
  seed: Uint8Array,
  platform?: TestPlatform,
): QuoteGenerator {
  const codec = new StructCodec(spec);
  const plat = platform ?? testPlatform(spec, seed);
  const pki = makeTestPki(spec, seed, plat);
  const attestationKey = deriveKey(seed, "attestation key");
  // The certification data is the same for every quote: build it once.
  const qeBody = qeReport(spec, plat, attestationKey);
  const qeBytes = codec.encode("SGX_REPORT_BODY", qeBody);
  const chain = new TextEncoder().encode(pki.pckChainPem);
  const qeCertData = codec.encode("QE_REPORT_CERTIFICATION_DATA", {
    qe_report: qeBody,
    qe_report_signature: signRaw(pki.pck.key, qeBytes),
    qe_auth_data_size: plat.qe.authData.length,
    qe_auth_data: plat.qe.authData,
    certification_data: {
      type: enumNumber(spec, "CERTIFICATION_DATA_TYPE", "PCK_CERT_CHAIN"),
      size: chain.length,
      data: chain,
    },
  });
  const v4 = enumNumber(spec, "QUOTE_VERSION", "V4");
  const v5 = enumNumber(spec, "QUOTE_VERSION", "V5");

  function generate(tdreport: Uint8Array, request: QuoteRequest = {}): Result<Uint8Array> {
    const version = request.version ?? v4;
    if (version !== v4 && version !== v5) {
      return fail(
        "unsupported",
        "QUOTE_HEADER.version",
        `cannot make a version ${version} TD quote`,
      );
    }
    if (version === v4 && request.body === "1.5") {
      return fail(
        "unsupported",
        "QUOTE_V4.body",
        "a version 4 quote carries only the TDX 1.0 body",
      );
    }
    const report = decodeTdreport(spec, tdreport, request);
    if (!report.ok) return report;
    const bodyStruct: TdBodyStruct = version === v5 && request.body !== "1.0"
      ? "TD_QUOTE_BODY_1_5"
      : "TD_QUOTE_BODY_1_0";
    const body = quoteBodyFromTdreport(spec, report.value, bodyStruct);
    const head = header(spec, codec, version, attestationKey);
    const bodyType = enumNumber(
      spec,
      "QUOTE_BODY_TYPE",
      bodyStruct === "TD_QUOTE_BODY_1_5" ? "TD_REPORT_1_5" : "TD_REPORT_1_0",
    );
    const signatureLength = fieldSize(spec, "QUOTE_SIGNATURE_DATA", "quote_signature");
    const encode = (signature: Uint8Array) => {
      const signatureData: DecodedStruct = {
        quote_signature: signature,
        attestation_key: attestationKey.point,
        certification_data: {
          type: enumNumber(spec, "CERTIFICATION_DATA_TYPE", "QE_REPORT_CERTIFICATION_DATA"),
          size: qeCertData.length,
          data: qeCertData,
        },
      };
      const signatureDataLen = codec.encode("QUOTE_SIGNATURE_DATA", signatureData).length;
      const quote = version === v4
        ? codec.encode("QUOTE_V4", {
          header: head,
          body,
          signature_data_len: signatureDataLen,
          signature_data: signatureData,
        })
        : codec.encode("QUOTE_V5", {
          header: head,
          body_type: bodyType,
          body_size: codec.encode(bodyStruct, body).length,
          body: codec.encode(bodyStruct, body),
          signature_data_len: signatureDataLen,
          signature_data: signatureData,
        });
      // Everything before signature_data_len is what the attestation key signs.
      const signedLength = quote.length - signatureDataLen -
        fieldSize(spec, "QUOTE_V4", "signature_data_len");
      return { quote, signed: quote.subarray(0, signedLength) };
    };
    const draft = encode(new Uint8Array(signatureLength));
    return { ok: true, value: encode(signRaw(attestationKey, draft.signed)).quote };
  }

  return { seed, platform: plat, pki, attestationKey, generate };
}
