// The numbers of the ECDSA quote format, read once from the spec: struct names, the
// offsets that bound the signed region, and the enum values the parser branches on.
import { theSpec } from "../../spec/mod.ts";
import type { Spec, StructItem } from "../../spec/mod.ts";
import { StructCodec } from "../../spec/codec.ts";
import { parseHex } from "../../spec/hex.ts";

export interface QuoteLayout {
  codec: StructCodec;
  headerSize: number;
  v4SignedEnd: number;
  /** Size of the u32 signature_data_len between the signed region and the signature data. */
  sigDataLenSize: number;
  /** Offset of QUOTE_SIGNATURE_DATA.certification_data. */
  sigCertDataOffset: number;
  /** Offset of QE_REPORT_CERTIFICATION_DATA.qe_auth_data (its PCK data follows the auth data). */
  qeAuthDataOffset: number;
  /** Size of a raw ECDSA P-256 signature, r then s (QUOTE_SIGNATURE_DATA.quote_signature). */
  p256SignatureSize: number;
  /** Offset of QUOTE_V5.body: the signed region of a v5 quote ends at this plus body_size. */
  v5BodyOffset: number;
  qeReportOffset: number;
  qeReportSize: number;
  version: { v3: number; v4: number; v5: number };
  teeType: { sgx: number; tdx: number };
  attestationKeyEcdsaP256: number;
  bodyType: { sgx: number; td10: number; td15: number };
  bodyStructByType: Map<number, string>;
  certData: { qeReport: number; pckChain: number };
  tdAttributesDebugBits: [number, number];
  enumName(enumName: string, value: number | bigint): string | undefined;
}

function fieldOffset(s: StructItem, name: string): number {
  const f = s.fields.find((x) => x.name === name);
  if (f?.offset === undefined) throw new Error(`spec: ${s.name}.${name} has no fixed offset`);
  return f.offset;
}

function fieldSize(s: StructItem, name: string): number {
  const f = s.fields.find((x) => x.name === name);
  if (f?.size === undefined) throw new Error(`spec: ${s.name}.${name} has no fixed size`);
  return f.size;
}

function build(spec: Spec): QuoteLayout {
  const num = (e: string, v: string) => Number(spec.enumValue(e, v));
  const header = spec.struct("QUOTE_HEADER");
  const v4 = spec.struct("QUOTE_V4");
  const v5 = spec.struct("QUOTE_V5");
  const qeCert = spec.struct("QE_REPORT_CERTIFICATION_DATA");
  const debug = spec.bitfield("TD_ATTRIBUTES").fields.find((f) => f.name === "DEBUG");
  if (!debug) throw new Error("spec: TD_ATTRIBUTES has no DEBUG field");
  const bodyType = {
    sgx: num("QUOTE_BODY_TYPE", "SGX_ENCLAVE_REPORT"),
    td10: num("QUOTE_BODY_TYPE", "TD_REPORT_1_0"),
    td15: num("QUOTE_BODY_TYPE", "TD_REPORT_1_5"),
  };
  return {
    codec: new StructCodec(spec),
    headerSize: header.size as number,
    v4SignedEnd: fieldOffset(v4, "signature_data_len"),
    sigDataLenSize: fieldSize(v4, "signature_data_len"),
    sigCertDataOffset: fieldOffset(spec.struct("QUOTE_SIGNATURE_DATA"), "certification_data"),
    qeAuthDataOffset: fieldOffset(qeCert, "qe_auth_data"),
    p256SignatureSize: fieldSize(spec.struct("QUOTE_SIGNATURE_DATA"), "quote_signature"),
    v5BodyOffset: fieldOffset(v5, "body"),
    qeReportOffset: fieldOffset(qeCert, "qe_report"),
    qeReportSize: fieldSize(qeCert, "qe_report"),
    version: {
      v3: num("QUOTE_VERSION", "V3"),
      v4: num("QUOTE_VERSION", "V4"),
      v5: num("QUOTE_VERSION", "V5"),
    },
    teeType: { sgx: num("QUOTE_TEE_TYPE", "SGX"), tdx: num("QUOTE_TEE_TYPE", "TDX") },
    attestationKeyEcdsaP256: num("ATTESTATION_KEY_TYPE", "ECDSA_P256"),
    bodyType,
    bodyStructByType: new Map([
      [bodyType.td10, "TD_QUOTE_BODY_1_0"],
      [bodyType.td15, "TD_QUOTE_BODY_1_5"],
    ]),
    certData: {
      qeReport: num("CERTIFICATION_DATA_TYPE", "QE_REPORT_CERTIFICATION_DATA"),
      pckChain: num("CERTIFICATION_DATA_TYPE", "PCK_CERT_CHAIN"),
    },
    tdAttributesDebugBits: debug.bits,
    enumName(enumName, value) {
      const v = BigInt(value);
      return spec.enum(enumName).values.find((x) => parseHex(x.value) === v)?.name;
    },
  };
}

let cached: QuoteLayout | undefined;

export function quoteLayout(): QuoteLayout {
  return cached ??= build(theSpec());
}
