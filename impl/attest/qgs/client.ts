// A QGS client, for the launcher (the host side of a TD's GetQuote) and for tests:
// connects over TCP or a Unix socket, sends one framed request, reads the framed
// response and checks it the way Intel's message library inflates responses (sizes,
// version, type, error code range). Failures are values saying which side failed.
import type { Spec } from "../../spec/mod.ts";
import { type DecodedStruct } from "../../spec/codec.ts";
import { parseHex } from "../../spec/hex.ts";
import { enumName, enumNumber, fieldOffset, structSize } from "../spec_facts.ts";
import {
  codecOf,
  collateralRequest,
  majorVersion,
  platformInfoRequest,
  quoteRequest,
} from "./messages.ts";
import { ExactReader, frame, frameLength, prefixSize, writeAll } from "./framing.ts";

export type QgsEndpoint = { hostname?: string; port: number } | { path: string };

export interface QgsClientError {
  /**
   * connect: no QGS there; io: the connection broke or timed out; protocol: the answer
   * is malformed; server: a well-formed error response (code names the QGS_MSG_ERROR).
   */
  kind: "connect" | "io" | "protocol" | "server";
  code?: string;
  message: string;
}

export type ClientResult<T> = { ok: true; value: T } | { ok: false; error: QgsClientError };

export interface ClientOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Refuse answers larger than this (default 1 MiB). */
  maxResponseSize?: number;
}

const bad = (kind: QgsClientError["kind"], message: string, code?: string) => ({
  ok: false as const,
  error: code ? { kind, code, message } : { kind, message },
});

async function connect(endpoint: QgsEndpoint): Promise<Deno.Conn> {
  return "path" in endpoint
    ? await Deno.connect({ transport: "unix", path: endpoint.path })
    : await Deno.connect({ hostname: endpoint.hostname ?? "127.0.0.1", port: endpoint.port });
}

/** Sends `bytes` as they are and reads until the QGS closes (at most `limit` bytes). */
async function roundTrip(
  endpoint: QgsEndpoint,
  bytes: Uint8Array,
  read: (reader: ExactReader) => Promise<ClientResult<Uint8Array>>,
  opts: ClientOptions,
): Promise<ClientResult<Uint8Array>> {
  let conn: Deno.Conn;
  try {
    conn = await connect(endpoint);
  } catch (e) {
    return bad("connect", `cannot connect to the QGS: ${(e as Error).message}`);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, opts.timeoutMs ?? 30_000);
  try {
    await writeAll(conn, bytes);
    return await read(new ExactReader(conn));
  } catch (e) {
    return bad(
      "io",
      timedOut ? "the QGS did not answer in time" : `connection failed: ${(e as Error).message}`,
    );
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/** One framed request, one framed response message. */
export function exchange(
  spec: Spec,
  endpoint: QgsEndpoint,
  message: Uint8Array,
  opts: ClientOptions = {},
): Promise<ClientResult<Uint8Array>> {
  const limit = opts.maxResponseSize ?? 1 << 20;
  return roundTrip(endpoint, frame(spec, message), async (reader) => {
    const prefix = await reader.read(prefixSize(spec));
    if (prefix.length < prefixSize(spec)) {
      return bad("io", "the QGS closed the connection without an answer");
    }
    const length = frameLength(spec, prefix);
    if (length > limit) {
      return bad("protocol", `the QGS announces a ${length}-byte answer, over the ${limit} limit`);
    }
    const body = await reader.read(length);
    if (body.length < length) {
      return bad("io", `the answer ends after ${body.length} of ${length} bytes`);
    }
    return { ok: true, value: body };
  }, opts);
}

/** Checks a response the way the message library inflates it; returns the decoded struct. */
export function parseResponse(
  spec: Spec,
  msg: Uint8Array,
  struct: string,
  typeName: string,
): ClientResult<DecodedStruct> {
  const proto = (code: string, message: string) => bad("protocol", message, code);
  if (msg.length < structSize(spec, struct)) {
    return proto(
      "QGS_MSG_ERROR_INVALID_PARAMETER",
      `a ${msg.length}-byte answer is shorter than ${struct}`,
    );
  }
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const u32 = (field: string, s = "QGS_MSG_HEADER", base = 0) =>
    view.getUint32(base + fieldOffset(spec, s, field), true);
  if (
    view.getUint16(fieldOffset(spec, "QGS_MSG_HEADER", "major_version"), true) !==
      majorVersion(spec)
  ) {
    return proto("QGS_MSG_ERROR_INVALID_VERSION", "the answer has another major version");
  }
  if (u32("type") !== enumNumber(spec, "QGS_MSG_TYPE", typeName)) {
    return proto(
      "QGS_MSG_ERROR_INVALID_TYPE",
      `the answer is of type ${u32("type")}, not ${typeName}`,
    );
  }
  if (u32("size") !== msg.length) {
    return proto(
      "QGS_MSG_ERROR_INVALID_SIZE",
      `header.size ${u32("size")} but ${msg.length} bytes came`,
    );
  }
  const sizes = spec.struct(struct).fields.filter((f) =>
    f.name.endsWith("_size") && f.offset !== undefined
  );
  const payload = sizes.reduce((n, f) => n + u32(f.name, struct), 0);
  const code = u32("error_code");
  const maxCode = Math.max(
    ...spec.enum("QGS_MSG_ERROR").values.map((v) => Number(parseHex(v.value))),
  );
  if (code !== 0) {
    if (code > maxCode) {
      return proto(
        "QGS_MSG_ERROR_INVALID_CODE",
        `error code 0x${code.toString(16)} is out of range`,
      );
    }
    if (payload !== 0) return proto("QGS_MSG_ERROR_INVALID_SIZE", "an error answer with a payload");
    const name = enumName(spec, "QGS_MSG_ERROR", code)!;
    return bad("server", `the QGS answered ${name}`, name);
  }
  let decoded: DecodedStruct;
  try {
    decoded = codecOf(spec).decode(struct, msg).value;
  } catch (e) {
    return proto("QGS_MSG_ERROR_INVALID_SIZE", (e as Error).message);
  }
  if (payload === 0) {
    return proto("QGS_MSG_ERROR_INVALID_SIZE", "a success answer without a payload");
  }
  return { ok: true, value: decoded };
}

export interface QuoteAnswer {
  quote: Uint8Array;
  /** The attestation key ID the QGS used, when it names one. */
  selectedId: Uint8Array;
}

/** GET_QUOTE_REQ for a TDREPORT; the quote, or why there is none. */
export async function getQuote(
  spec: Spec,
  endpoint: QgsEndpoint,
  tdreport: Uint8Array,
  opts: ClientOptions & { idList?: Uint8Array } = {},
): Promise<ClientResult<QuoteAnswer>> {
  const resp = await exchange(spec, endpoint, quoteRequest(spec, tdreport, opts.idList), opts);
  if (!resp.ok) return resp;
  const msg = resp.value;
  const d = parseResponse(spec, msg, "QGS_GET_QUOTE_RESP", "GET_QUOTE_RESP");
  if (!d.ok) return d;
  const total = structSize(spec, "QGS_GET_QUOTE_RESP") + (d.value.selected_id_size as number) +
    (d.value.quote_size as number);
  if (total !== msg.length) {
    return bad("protocol", "sizes do not add up to the answer", "QGS_MSG_ERROR_INVALID_SIZE");
  }
  return {
    ok: true,
    value: { quote: d.value.quote as Uint8Array, selectedId: d.value.selected_id as Uint8Array },
  };
}

/** The bare form Intel's QGS also takes: a TDREPORT in, the quote out, no header or frame. */
export function getQuoteRaw(
  endpoint: QgsEndpoint,
  tdreport: Uint8Array,
  opts: ClientOptions = {},
): Promise<ClientResult<Uint8Array>> {
  const limit = opts.maxResponseSize ?? 1 << 20;
  return roundTrip(endpoint, tdreport, async (reader) => {
    const quote = await reader.read(limit + 1);
    if (quote.length === 0) return bad("server", "the QGS closed the connection without a quote");
    if (quote.length > limit) return bad("protocol", `the answer is over the ${limit}-byte limit`);
    return { ok: true, value: quote };
  }, opts);
}

export interface PlatformInfo {
  tdqeIsvSvn: number;
  pceIsvSvn: number;
  platformId: Uint8Array;
  cpuSvn: Uint8Array;
}

export async function getPlatformInfo(
  spec: Spec,
  endpoint: QgsEndpoint,
  opts: ClientOptions = {},
): Promise<ClientResult<PlatformInfo>> {
  const resp = await exchange(spec, endpoint, platformInfoRequest(spec), opts);
  if (!resp.ok) return resp;
  const d = parseResponse(spec, resp.value, "QGS_GET_PLATFORM_INFO_RESP", "GET_PLATFORM_INFO_RESP");
  if (!d.ok) return d;
  return {
    ok: true,
    value: {
      tdqeIsvSvn: d.value.tdqe_isvsvn as number,
      pceIsvSvn: d.value.pce_isvsvn as number,
      platformId: d.value.platform_id as Uint8Array,
      cpuSvn: d.value.cpusvn as Uint8Array,
    },
  };
}

export type CollateralItems =
  & Record<
    | "pck_crl_issuer_chain"
    | "root_ca_crl"
    | "pck_crl"
    | "tcb_info_issuer_chain"
    | "tcb_info"
    | "qe_identity_issuer_chain"
    | "qe_identity",
    Uint8Array
  >
  & { majorVersion: number; minorVersion: number };

export async function getCollateral(
  spec: Spec,
  endpoint: QgsEndpoint,
  fmspc: Uint8Array,
  pckCa: Uint8Array,
  opts: ClientOptions = {},
): Promise<ClientResult<CollateralItems>> {
  const resp = await exchange(spec, endpoint, collateralRequest(spec, fmspc, pckCa), opts);
  if (!resp.ok) return resp;
  const d = parseResponse(spec, resp.value, "QGS_GET_COLLATERAL_RESP", "GET_COLLATERAL_RESP");
  if (!d.ok) return d;
  const v = d.value;
  return {
    ok: true,
    value: {
      majorVersion: v.collateral_major_version as number,
      minorVersion: v.collateral_minor_version as number,
      pck_crl_issuer_chain: v.pck_crl_issuer_chain as Uint8Array,
      root_ca_crl: v.root_ca_crl as Uint8Array,
      pck_crl: v.pck_crl as Uint8Array,
      tcb_info_issuer_chain: v.tcb_info_issuer_chain as Uint8Array,
      tcb_info: v.tcb_info as Uint8Array,
      qe_identity_issuer_chain: v.qe_identity_issuer_chain as Uint8Array,
      qe_identity: v.qe_identity as Uint8Array,
    },
  };
}
