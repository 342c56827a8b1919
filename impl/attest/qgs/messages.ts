// The QGS message protocol as the spec's QGS_* structs define it: requests are checked
// in the order Intel's message library checks them (size of the fixed part, major
// version, type, header.size, error_code, payload sizes) and every failure is answered
// with an error response of the matching response type, carrying a QGS_MSG_ERROR code
// and zero payload sizes. A valid GET_QUOTE_REQ is answered with a quote from the
// generator; GET_PLATFORM_INFO_REQ and GET_COLLATERAL_REQ with the test platform's
// data. Pure functions over bytes: the server only moves them.
import type { Spec } from "../../spec/mod.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { enumName, enumNumber, fieldOffset, fieldSize, structSize } from "../spec_facts.ts";
import type { QuoteGenerator, QuoteRequest } from "../quote/quote_generate.ts";
import { type CollateralOptions, makeCollateral } from "../quote/collateral.ts";
import { hexToBytes } from "../../spec/hex.ts";

export interface QgsContext {
  spec: Spec;
  generator: QuoteGenerator;
  /** Which quote a GET_QUOTE_REQ gets (version, body); default version 4. */
  quote?: QuoteRequest;
  /** What the collateral in GET_COLLATERAL_RESP describes. */
  collateral?: CollateralOptions;
}

/** The protocol major version every message carries (the header's fixed value). */
export function majorVersion(spec: Spec): number {
  const v = spec.struct("QGS_MSG_HEADER").fields.find((f) => f.name === "major_version")!.value!;
  return Number(BigInt(v));
}

/** Minor version this implementation writes: the library's current one. */
export const MINOR_VERSION = 1;

const codecs = new WeakMap<Spec, StructCodec>();
export function codecOf(spec: Spec): StructCodec {
  let c = codecs.get(spec);
  if (!c) codecs.set(spec, c = new StructCodec(spec));
  return c;
}

const type = (spec: Spec, name: string) => enumNumber(spec, "QGS_MSG_TYPE", name);
const code = (spec: Spec, name: string) => enumNumber(spec, "QGS_MSG_ERROR", name);

function u32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at, true);
}

function header(spec: Spec, msgType: string, size: number, errorCode = 0): DecodedStruct {
  return {
    major_version: majorVersion(spec),
    minor_version: MINOR_VERSION,
    type: type(spec, msgType),
    size,
    error_code: errorCode,
  };
}

/** The response type that answers a request type (GET_QUOTE_REQ -> GET_QUOTE_RESP). */
function responseFor(spec: Spec, requestType: number): string {
  const name = enumName(spec, "QGS_MSG_TYPE", requestType);
  return name?.endsWith("_REQ") ? `${name.slice(0, -4)}_RESP` : "GET_QUOTE_RESP";
}

/** Size of the fixed part of a response struct: what an error response is. */
function fixedPart(spec: Spec, struct: string): number {
  return structSize(spec, struct);
}

const RESPONSE_STRUCT: Record<string, string> = {
  GET_QUOTE_RESP: "QGS_GET_QUOTE_RESP",
  GET_COLLATERAL_RESP: "QGS_GET_COLLATERAL_RESP",
  GET_PLATFORM_INFO_RESP: "QGS_GET_PLATFORM_INFO_RESP",
};

/** An error response: the response struct's fixed part, all sizes zero. */
export function errorResponse(spec: Spec, responseType: string, errorName: string): Uint8Array {
  const size = fixedPart(spec, RESPONSE_STRUCT[responseType]);
  const out = new Uint8Array(size);
  out.set(
    codecOf(spec).encode("QGS_MSG_HEADER", header(spec, responseType, size, code(spec, errorName))),
  );
  return out;
}

type Checked = { ok: true; header: DecodedStruct } | { ok: false; error: string };

/** The checks every request gets, in the message library's order. */
function checkRequest(spec: Spec, msg: Uint8Array, struct: string, expected: number): Checked {
  if (msg.length < structSize(spec, struct)) {
    return { ok: false, error: "QGS_MSG_ERROR_INVALID_PARAMETER" };
  }
  const h = decodeHeader(spec, msg);
  if (h.major_version !== majorVersion(spec)) {
    return { ok: false, error: "QGS_MSG_ERROR_INVALID_VERSION" };
  }
  if (h.type !== expected) return { ok: false, error: "QGS_MSG_ERROR_INVALID_TYPE" };
  if (h.size !== msg.length) return { ok: false, error: "QGS_MSG_ERROR_INVALID_SIZE" };
  if (h.error_code !== 0) return { ok: false, error: "QGS_MSG_ERROR_INVALID_CODE" };
  return { ok: true, header: h };
}

/** The header without the fixed-value check, so a wrong major version can be answered. */
function decodeHeader(spec: Spec, msg: Uint8Array): DecodedStruct {
  const out: DecodedStruct = {};
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  let off = 0;
  for (const f of spec.struct("QGS_MSG_HEADER").fields) {
    out[f.name] = f.type === "u16" ? view.getUint16(off, true) : view.getUint32(off, true);
    off += fieldSize(spec, "QGS_MSG_HEADER", f.name);
  }
  return out;
}

/** Payload sizes of a request past its fixed part; undefined when they overflow 32 bits. */
function expectedSize(spec: Spec, struct: string, sizes: number[]): number | undefined {
  const total = sizes.reduce((a, b) => a + b, structSize(spec, struct));
  return total >= 2 ** (8 * fieldSize(spec, "QGS_MSG_HEADER", "size")) - 1 ? undefined : total;
}

function quoteResponse(ctx: QgsContext, msg: Uint8Array): Uint8Array {
  const { spec } = ctx;
  const fail = (e: string) => errorResponse(spec, "GET_QUOTE_RESP", e);
  const c = checkRequest(spec, msg, "QGS_GET_QUOTE_REQ", type(spec, "GET_QUOTE_REQ"));
  if (!c.ok) return fail(c.error);
  const reportSize = u32(msg, fieldOffset(spec, "QGS_GET_QUOTE_REQ", "report_size"));
  const idListSize = u32(msg, fieldOffset(spec, "QGS_GET_QUOTE_REQ", "id_list_size"));
  // Intel's library answers a zero report_size with INVALID_CODE, not INVALID_PARAMETER.
  if (reportSize === 0) return fail("QGS_MSG_ERROR_INVALID_CODE");
  const total = expectedSize(spec, "QGS_GET_QUOTE_REQ", [reportSize, idListSize]);
  if (total === undefined) return fail("QGS_MSG_ERROR_UNEXPECTED");
  if (total !== c.header.size) return fail("QGS_MSG_ERROR_INVALID_SIZE");
  const req = codecOf(spec).decode("QGS_GET_QUOTE_REQ", msg).value;
  const quote = ctx.generator.generate(req.report as Uint8Array, ctx.quote);
  // Intel's QGS answers every quoting failure with UNEXPECTED.
  if (!quote.ok) return fail("QGS_MSG_ERROR_UNEXPECTED");
  const size = fixedPart(spec, "QGS_GET_QUOTE_RESP") + quote.value.length;
  return codecOf(spec).encode("QGS_GET_QUOTE_RESP", {
    header: header(spec, "GET_QUOTE_RESP", size),
    selected_id_size: 0,
    quote_size: quote.value.length,
    selected_id: new Uint8Array(0),
    quote: quote.value,
  });
}

function platformInfoResponse(ctx: QgsContext, msg: Uint8Array): Uint8Array {
  const { spec } = ctx;
  const c = checkRequest(
    spec,
    msg,
    "QGS_GET_PLATFORM_INFO_REQ",
    type(spec, "GET_PLATFORM_INFO_REQ"),
  );
  if (!c.ok) return errorResponse(spec, "GET_PLATFORM_INFO_RESP", c.error);
  const { pck, qe } = ctx.generator.platform;
  const platformId = pck.platformInstanceId ?? pck.ppid;
  const body = codecOf(spec).encode("QGS_GET_PLATFORM_INFO_RESP", {
    header: header(spec, "GET_PLATFORM_INFO_RESP", 0),
    tdqe_isvsvn: qe.isvSvn,
    pce_isvsvn: pck.pceSvn,
    platform_id_size: platformId.length,
    cpusvn_size: pck.cpuSvn.length,
    platform_id: platformId,
    cpusvn: pck.cpuSvn,
  });
  // Intel's generator sizes this response past its contents by the size of the two SVN
  // fields (zeros at the end, counted in header.size); peers built on it expect that.
  const extra = fieldSize(spec, "QGS_GET_PLATFORM_INFO_RESP", "tdqe_isvsvn") +
    fieldSize(spec, "QGS_GET_PLATFORM_INFO_RESP", "pce_isvsvn");
  const out = new Uint8Array(body.length + extra);
  out.set(body);
  out.set(
    codecOf(spec).encode("QGS_MSG_HEADER", header(spec, "GET_PLATFORM_INFO_RESP", out.length)),
  );
  return out;
}

function collateralResponse(ctx: QgsContext, msg: Uint8Array): Uint8Array {
  const { spec } = ctx;
  const fail = (e: string) => errorResponse(spec, "GET_COLLATERAL_RESP", e);
  const c = checkRequest(spec, msg, "QGS_GET_COLLATERAL_REQ", type(spec, "GET_COLLATERAL_REQ"));
  if (!c.ok) return fail(c.error);
  const fmspcSize = u32(msg, fieldOffset(spec, "QGS_GET_COLLATERAL_REQ", "fmspc_size"));
  const pckCaSize = u32(msg, fieldOffset(spec, "QGS_GET_COLLATERAL_REQ", "pck_ca_size"));
  if (fmspcSize === 0 || pckCaSize === 0) return fail("QGS_MSG_ERROR_INVALID_SIZE");
  const total = expectedSize(spec, "QGS_GET_COLLATERAL_REQ", [fmspcSize, pckCaSize]);
  if (total === undefined) return fail("QGS_MSG_ERROR_UNEXPECTED");
  if (total !== c.header.size) return fail("QGS_MSG_ERROR_INVALID_SIZE");
  const req = codecOf(spec).decode("QGS_GET_COLLATERAL_REQ", msg).value;
  const fmspc = req.fmspc as Uint8Array;
  const ours = ctx.generator.platform.pck.fmspc;
  // Collateral exists only for the test platform's FMSPC.
  if (fmspc.length !== ours.length || fmspc.some((b, i) => b !== ours[i])) {
    return fail("QGS_MSG_ERROR_UNEXPECTED");
  }
  const col = makeCollateral(spec, ctx.generator, ctx.collateral);
  const text = (s: string) => new TextEncoder().encode(s);
  // Items as Intel's quote provider library hands them over: PEM chains, DER CRLs,
  // and the TCB info / QE identity as the PCS response JSON with its signature.
  const items = {
    pck_crl_issuer_chain: text(col.pck_crl_issuer_chain),
    root_ca_crl: hexToBytes(col.root_ca_crl),
    pck_crl: hexToBytes(col.pck_crl),
    tcb_info_issuer_chain: text(col.tcb_info_issuer_chain),
    tcb_info: text(`{"tcbInfo":${col.tcb_info},"signature":"${col.tcb_info_signature}"}`),
    qe_identity_issuer_chain: text(col.qe_identity_issuer_chain),
    qe_identity: text(
      `{"enclaveIdentity":${col.qe_identity},"signature":"${col.qe_identity_signature}"}`,
    ),
  };
  const value: DecodedStruct = { header: header(spec, "GET_COLLATERAL_RESP", 0), ...items };
  for (const [k, v] of Object.entries(items)) value[`${k}_size`] = v.length;
  value.collateral_major_version = COLLATERAL_VERSION.major;
  value.collateral_minor_version = COLLATERAL_VERSION.minor;
  const body = codecOf(spec).encode("QGS_GET_COLLATERAL_RESP", value);
  // The library's quirk: a request of minor version 0 gets a response longer by the
  // size of the two version fields (zeros at the end).
  const extra = fieldSize(spec, "QGS_GET_COLLATERAL_RESP", "collateral_major_version") +
    fieldSize(spec, "QGS_GET_COLLATERAL_RESP", "collateral_minor_version");
  const out = new Uint8Array(body.length + (c.header.minor_version === 0 ? extra : 0));
  out.set(body);
  out.set(codecOf(spec).encode("QGS_MSG_HEADER", header(spec, "GET_COLLATERAL_RESP", out.length)));
  return out;
}

/** Version of the collateral structure handed out (Intel's v4 collateral, for TDX). */
export const COLLATERAL_VERSION = { major: 4, minor: 0 };

/** The response message (unframed) for one request message (unframed). */
export function handleMessage(ctx: QgsContext, msg: Uint8Array): Uint8Array {
  const { spec } = ctx;
  if (msg.length < structSize(spec, "QGS_MSG_HEADER")) {
    return errorResponse(spec, "GET_QUOTE_RESP", "QGS_MSG_ERROR_INVALID_PARAMETER");
  }
  const h = decodeHeader(spec, msg);
  const respond = responseFor(spec, h.type as number);
  if (h.major_version !== majorVersion(spec)) {
    return errorResponse(
      spec,
      RESPONSE_STRUCT[respond] ? respond : "GET_QUOTE_RESP",
      "QGS_MSG_ERROR_INVALID_VERSION",
    );
  }
  switch (h.type) {
    case type(spec, "GET_QUOTE_REQ"):
      return quoteResponse(ctx, msg);
    case type(spec, "GET_PLATFORM_INFO_REQ"):
      return platformInfoResponse(ctx, msg);
    case type(spec, "GET_COLLATERAL_REQ"):
      return collateralResponse(ctx, msg);
    default:
      // Responses and unknown types are no requests.
      return errorResponse(spec, "GET_QUOTE_RESP", "QGS_MSG_ERROR_INVALID_TYPE");
  }
}

/** A GET_QUOTE_REQ message for a report (and optional key ID list). */
export function quoteRequest(
  spec: Spec,
  report: Uint8Array,
  idList: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const size = structSize(spec, "QGS_GET_QUOTE_REQ") + report.length + idList.length;
  return codecOf(spec).encode("QGS_GET_QUOTE_REQ", {
    header: header(spec, "GET_QUOTE_REQ", size),
    report_size: report.length,
    id_list_size: idList.length,
    report,
    id_list: idList,
  });
}

export function platformInfoRequest(spec: Spec): Uint8Array {
  return codecOf(spec).encode("QGS_GET_PLATFORM_INFO_REQ", {
    header: header(spec, "GET_PLATFORM_INFO_REQ", structSize(spec, "QGS_GET_PLATFORM_INFO_REQ")),
  });
}

export function collateralRequest(spec: Spec, fmspc: Uint8Array, pckCa: Uint8Array): Uint8Array {
  const size = structSize(spec, "QGS_GET_COLLATERAL_REQ") + fmspc.length + pckCa.length;
  return codecOf(spec).encode("QGS_GET_COLLATERAL_REQ", {
    header: header(spec, "GET_COLLATERAL_REQ", size),
    fmspc_size: fmspc.length,
    pck_ca_size: pckCa.length,
    fmspc,
    pck_ca: pckCa,
  });
}
