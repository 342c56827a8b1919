// Every QGS_MSG_ERROR a request can earn, in the message library's order, and the
// successful answers, straight through handleMessage (no sockets).
import { strict as assert } from "node:assert";
import { theSpec } from "../../spec/mod.ts";
import { type DecodedStruct } from "../../spec/codec.ts";
import { encodeBits } from "../../spec/bits.ts";
import { enumName, enumNumber, fieldOffset, structSize } from "../spec_facts.ts";
import { makeQuoteGenerator } from "../quote/quote_generate.ts";
import { sampleTdreport } from "../quote/tdreport_sample.ts";
import { decodeQuote } from "../quote/quote_decode.ts";
import {
  codecOf,
  collateralRequest,
  handleMessage,
  platformInfoRequest,
  type QgsContext,
  quoteRequest,
} from "./messages.ts";
import { parseResponse } from "./client.ts";

const spec = theSpec();
const generator = makeQuoteGenerator(spec, new TextEncoder().encode("qgs message test"));
const ctx: QgsContext = { spec, generator };
const report = sampleTdreport(spec, 3, {
  tdInfo: {
    attributes: encodeBits(spec.bitfield("TD_ATTRIBUTES").fields, { SEPT_VE_DISABLE: 1n }),
  },
});

const setU32 = (b: Uint8Array, struct: string, field: string, v: number) =>
  new DataView(b.buffer, b.byteOffset).setUint32(fieldOffset(spec, struct, field), v, true);
const setU16 = (b: Uint8Array, field: string, v: number) =>
  new DataView(b.buffer, b.byteOffset).setUint16(
    fieldOffset(spec, "QGS_MSG_HEADER", field),
    v,
    true,
  );
const header = (resp: Uint8Array) => codecOf(spec).decode("QGS_MSG_HEADER", resp).value;
const typeName = (h: DecodedStruct) => enumName(spec, "QGS_MSG_TYPE", h.type as number);
const errorName = (h: DecodedStruct) => enumName(spec, "QGS_MSG_ERROR", h.error_code as number);

function edited(msg: Uint8Array, edit: (b: Uint8Array) => void): Uint8Array {
  const b = msg.slice();
  edit(b);
  return b;
}

Deno.test("every malformed request earns its QGS_MSG_ERROR in an error response", async (t) => {
  const good = quoteRequest(spec, report);
  const notTdx = edited(report, (b) => b[0] = enumNumber(spec, "TEE_TYPE", "SGX"));
  const cases: [string, Uint8Array, string, string][] = [
    [
      "shorter than a header",
      good.subarray(0, 10),
      "QGS_MSG_ERROR_INVALID_PARAMETER",
      "GET_QUOTE_RESP",
    ],
    [
      "shorter than GET_QUOTE_REQ",
      edited(good.subarray(0, 20), (b) => setU32(b, "QGS_MSG_HEADER", "size", 20)),
      "QGS_MSG_ERROR_INVALID_PARAMETER",
      "GET_QUOTE_RESP",
    ],
    [
      "major version 2",
      edited(good, (b) => setU16(b, "major_version", 2)),
      "QGS_MSG_ERROR_INVALID_VERSION",
      "GET_QUOTE_RESP",
    ],
    [
      "a response sent as request",
      edited(
        good,
        (b) =>
          setU32(b, "QGS_MSG_HEADER", "type", enumNumber(spec, "QGS_MSG_TYPE", "GET_QUOTE_RESP")),
      ),
      "QGS_MSG_ERROR_INVALID_TYPE",
      "GET_QUOTE_RESP",
    ],
    [
      "unknown type",
      edited(good, (b) => setU32(b, "QGS_MSG_HEADER", "type", 99)),
      "QGS_MSG_ERROR_INVALID_TYPE",
      "GET_QUOTE_RESP",
    ],
    [
      "header.size is not the length",
      edited(good, (b) => setU32(b, "QGS_MSG_HEADER", "size", good.length + 1)),
      "QGS_MSG_ERROR_INVALID_SIZE",
      "GET_QUOTE_RESP",
    ],
    [
      "non-zero error_code",
      edited(good, (b) => setU32(b, "QGS_MSG_HEADER", "error_code", 1)),
      "QGS_MSG_ERROR_INVALID_CODE",
      "GET_QUOTE_RESP",
    ],
    [
      "report_size 0",
      edited(good, (b) => setU32(b, "QGS_GET_QUOTE_REQ", "report_size", 0)),
      "QGS_MSG_ERROR_INVALID_CODE",
      "GET_QUOTE_RESP",
    ],
    [
      "sizes overflow 32 bits",
      edited(good, (b) => setU32(b, "QGS_GET_QUOTE_REQ", "id_list_size", 0xffffffff)),
      "QGS_MSG_ERROR_UNEXPECTED",
      "GET_QUOTE_RESP",
    ],
    [
      "payload sizes disagree with header.size",
      edited(good, (b) => setU32(b, "QGS_GET_QUOTE_REQ", "report_size", 1000)),
      "QGS_MSG_ERROR_INVALID_SIZE",
      "GET_QUOTE_RESP",
    ],
    [
      "a report the QE refuses",
      quoteRequest(spec, notTdx),
      "QGS_MSG_ERROR_UNEXPECTED",
      "GET_QUOTE_RESP",
    ],
    [
      "a report of the wrong size",
      quoteRequest(spec, report.subarray(0, 512)),
      "QGS_MSG_ERROR_UNEXPECTED",
      "GET_QUOTE_RESP",
    ],
    [
      "platform info with a wrong size",
      edited(platformInfoRequest(spec), (b) => setU32(b, "QGS_MSG_HEADER", "size", 17)),
      "QGS_MSG_ERROR_INVALID_SIZE",
      "GET_PLATFORM_INFO_RESP",
    ],
    [
      "platform info with an error code",
      edited(platformInfoRequest(spec), (b) => setU32(b, "QGS_MSG_HEADER", "error_code", 7)),
      "QGS_MSG_ERROR_INVALID_CODE",
      "GET_PLATFORM_INFO_RESP",
    ],
    [
      "collateral for an empty FMSPC",
      edited(
        collateralRequest(spec, new Uint8Array(6), new Uint8Array(8)),
        (b) => setU32(b, "QGS_GET_COLLATERAL_REQ", "fmspc_size", 0),
      ),
      "QGS_MSG_ERROR_INVALID_SIZE",
      "GET_COLLATERAL_RESP",
    ],
    [
      "collateral for another platform",
      collateralRequest(spec, new Uint8Array(6), new TextEncoder().encode("platform")),
      "QGS_MSG_ERROR_UNEXPECTED",
      "GET_COLLATERAL_RESP",
    ],
    [
      "collateral sizes overflow",
      edited(
        collateralRequest(spec, new Uint8Array(6), new Uint8Array(8)),
        (b) => setU32(b, "QGS_GET_COLLATERAL_REQ", "pck_ca_size", 0xfffffff0),
      ),
      "QGS_MSG_ERROR_UNEXPECTED",
      "GET_COLLATERAL_RESP",
    ],
  ];
  for (const [name, msg, code, respType] of cases) {
    await t.step(name, () => {
      const resp = handleMessage(ctx, msg);
      const h = header(resp);
      assert.equal(errorName(h), code);
      assert.equal(typeName(h), respType);
      // An error response is the response's fixed part with every size zero.
      const struct = `QGS_${respType}`;
      assert.equal(resp.length, structSize(spec, struct));
      assert.equal(h.size, resp.length);
      assert.ok(resp.subarray(structSize(spec, "QGS_MSG_HEADER")).every((b) => b === 0));
      const parsed = parseResponse(spec, resp, struct, respType);
      assert.ok(!parsed.ok);
      assert.equal(parsed.error.kind, "server");
      assert.equal(parsed.error.code, code);
    });
  }
});

Deno.test("a GET_QUOTE_REQ is answered with a quote of that TDREPORT", () => {
  for (const quote of [undefined, { version: 5 }]) {
    const resp = handleMessage({ ...ctx, quote }, quoteRequest(spec, report, new Uint8Array(16)));
    const parsed = parseResponse(spec, resp, "QGS_GET_QUOTE_RESP", "GET_QUOTE_RESP");
    assert.ok(parsed.ok);
    const q = parsed.value.quote as Uint8Array;
    assert.deepEqual(q, (generator.generate(report, quote) as { value: Uint8Array }).value);
    const d = decodeQuote(spec, q);
    assert.ok(d.ok);
    assert.equal(d.value.version, quote?.version ?? 4);
    assert.equal(parsed.value.selected_id_size, 0);
  }
});

Deno.test("platform info and collateral answers carry the test platform's data", () => {
  const info = handleMessage(ctx, platformInfoRequest(spec));
  // Intel's generator makes this answer 4 bytes longer than its contents; so does ours.
  const p = parseResponse(spec, info, "QGS_GET_PLATFORM_INFO_RESP", "GET_PLATFORM_INFO_RESP");
  assert.ok(p.ok);
  assert.equal(p.value.tdqe_isvsvn, generator.platform.qe.isvSvn);
  assert.deepEqual(p.value.cpusvn, generator.platform.pck.cpuSvn);
  assert.equal(
    info.length,
    structSize(spec, "QGS_GET_PLATFORM_INFO_RESP") + 4 + (p.value.platform_id_size as number) +
      (p.value.cpusvn_size as number),
  );
  const pckCa = new TextEncoder().encode("platform");
  for (const minor of [1, 0]) {
    const req = edited(
      collateralRequest(spec, generator.platform.pck.fmspc, pckCa),
      (b) => setU16(b, "minor_version", minor),
    );
    const resp = handleMessage(ctx, req);
    const c = parseResponse(spec, resp, "QGS_GET_COLLATERAL_RESP", "GET_COLLATERAL_RESP");
    assert.ok(c.ok, c.ok ? "" : c.error.message);
    const items = [
      "pck_crl_issuer_chain",
      "root_ca_crl",
      "pck_crl",
      "tcb_info_issuer_chain",
      "tcb_info",
      "qe_identity_issuer_chain",
      "qe_identity",
    ];
    const payload = items.reduce((n, k) => n + (c.value[`${k}_size`] as number), 0);
    assert.equal(
      resp.length,
      structSize(spec, "QGS_GET_COLLATERAL_RESP") + payload + (minor === 0 ? 4 : 0),
    );
    const tcb = JSON.parse(new TextDecoder().decode(c.value.tcb_info as Uint8Array));
    assert.equal(tcb.tcbInfo.fmspc, "90C06F000000");
    assert.match(tcb.signature, /^[0-9a-f]{128}$/);
  }
});
