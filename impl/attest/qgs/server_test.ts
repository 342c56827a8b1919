// The QGS over real sockets on loopback: round trips over TCP and a Unix socket, the
// bare-TDREPORT form, oversize, short and garbage frames, the idle timeout, bounded
// concurrent clients and a graceful close.
import { strict as assert } from "node:assert";
import { theSpec } from "../../spec/mod.ts";
import { encodeBits } from "../../spec/bits.ts";
import { SampleRng } from "../../spec/sample_values.ts";
import { enumName } from "../spec_facts.ts";
import { bytesToHex } from "../../spec/hex.ts";
import { makeQuoteGenerator } from "../quote/quote_generate.ts";
import { sampleTdreport } from "../quote/tdreport_sample.ts";
import { decodeQuote } from "../quote/quote_decode.ts";
import { startQgs } from "./server.ts";
import {
  getCollateral,
  getPlatformInfo,
  getQuote,
  getQuoteRaw,
  type QgsEndpoint,
} from "./client.ts";
import { ExactReader, frame, frameLength, prefixSize } from "./framing.ts";
import { codecOf, quoteRequest } from "./messages.ts";

const spec = theSpec();
const generator = makeQuoteGenerator(spec, new TextEncoder().encode("qgs server test"));
const report = sampleTdreport(spec, 21, {
  tdInfo: {
    attributes: encodeBits(spec.bitfield("TD_ATTRIBUTES").fields, { SEPT_VE_DISABLE: 1n }),
  },
});
const expected = generator.generate(report);
if (!expected.ok) throw new Error(expected.error.message);

/** Sends raw bytes (optionally half-closing), returns everything the server sent back. */
async function rawExchange(port: number, bytes: Uint8Array, halfClose = true): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    if (halfClose) await conn.closeWrite();
    return await new ExactReader(conn).read(1 << 20);
  } finally {
    conn.close();
  }
}

/** The error name of a framed response. */
function framedError(bytes: Uint8Array): string | undefined {
  assert.ok(bytes.length >= prefixSize(spec));
  const msg = bytes.subarray(prefixSize(spec));
  assert.equal(frameLength(spec, bytes), msg.length);
  const h = codecOf(spec).decode("QGS_MSG_HEADER", msg).value;
  return enumName(spec, "QGS_MSG_ERROR", h.error_code as number);
}

Deno.test("GET_QUOTE, platform info and collateral round trips over TCP", async () => {
  const qgs = startQgs(spec, { generator, tcp: { port: 0 } });
  const endpoint: QgsEndpoint = { port: qgs.tcp!.port };
  try {
    assert.equal(qgs.tcp!.hostname, "127.0.0.1");
    const r = await getQuote(spec, endpoint, report);
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    assert.deepEqual(r.value.quote, expected.value);
    assert.equal(r.value.selectedId.length, 0);
    assert.ok(decodeQuote(spec, r.value.quote).ok);
    const info = await getPlatformInfo(spec, endpoint);
    assert.ok(info.ok);
    assert.equal(info.value.pceIsvSvn, generator.platform.pck.pceSvn);
    const col = await getCollateral(
      spec,
      endpoint,
      generator.platform.pck.fmspc,
      new TextEncoder().encode("platform"),
    );
    assert.ok(col.ok);
    assert.match(
      new TextDecoder().decode(col.value.tcb_info_issuer_chain),
      /^-----BEGIN CERTIFICATE-----/,
    );
    assert.equal(qgs.stats().responses.QGS_MSG_SUCCESS, 3);
  } finally {
    await qgs.close();
  }
  const after = await getQuote(spec, endpoint, report);
  assert.ok(!after.ok);
  assert.equal(after.error.kind, "connect");
});

Deno.test("GET_QUOTE round trip over a Unix socket (in a child with the socket's permission)", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/qgs.sock`;
  const config = new URL("../../../deno.json", import.meta.url).pathname;
  const script = new URL("./testing/unix_round_trip.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      config,
      `--allow-net=unix:${path}`,
      "--allow-read",
      "--allow-write",
      "--allow-env=LOG_TOKENS,LOG_STREAM",
      script,
      path,
      "qgs server test",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  Deno.removeSync(dir, { recursive: true });
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  const seedGen = makeQuoteGenerator(spec, new TextEncoder().encode("qgs server test"));
  const want = seedGen.generate(sampleTdreport(spec, 21));
  assert.ok(want.ok);
  assert.equal(r.quote, bytesToHex(want.value));
  assert.equal(r.raw, bytesToHex(want.value));
  assert.equal(r.info, seedGen.platform.pck.pceSvn);
  assert.equal(r.many, true);
  assert.ok(r.maxActive <= 2);
  assert.equal(r.socketExisted, true);
  assert.equal(r.socketRemoved, true);
  assert.equal(r.afterClose, "connect");
});

Deno.test("a QGS error reaches the client as a server error with its code", async () => {
  const qgs = startQgs(spec, { generator, tcp: { port: 0 } });
  try {
    const notTdx = report.slice();
    notTdx[0] = 0;
    const r = await getQuote(spec, { port: qgs.tcp!.port }, notTdx);
    assert.ok(!r.ok);
    assert.equal(r.error.kind, "server");
    assert.equal(r.error.code, "QGS_MSG_ERROR_UNEXPECTED");
  } finally {
    await qgs.close();
  }
});

Deno.test("a bare TDREPORT gets the bare quote", async () => {
  const qgs = startQgs(spec, { generator, tcp: { port: 0 }, quote: { version: 5 } });
  try {
    const r = await getQuoteRaw({ port: qgs.tcp!.port }, report);
    assert.ok(r.ok);
    assert.deepEqual(
      r.value,
      (generator.generate(report, { version: 5 }) as { value: Uint8Array }).value,
    );
    assert.equal(qgs.stats().responses.raw, 1);
  } finally {
    await qgs.close();
  }
});

Deno.test("oversize, short and garbage frames are answered or dropped, never crash", async () => {
  const qgs = startQgs(spec, {
    generator,
    tcp: { port: 0 },
    maxMessageSize: 4096,
    acceptRawReports: true,
  });
  const port = qgs.tcp!.port;
  try {
    // A frame over the limit: OUT_OF_MEMORY, without the server reading the body.
    const big = new Uint8Array(prefixSize(spec));
    new DataView(big.buffer).setUint32(0, 4097);
    assert.equal(framedError(await rawExchange(port, big)), "QGS_MSG_ERROR_OUT_OF_MEMORY");
    // A frame that ends early: INVALID_SIZE.
    const req = frame(spec, quoteRequest(spec, report));
    assert.equal(
      framedError(await rawExchange(port, req.subarray(0, 100))),
      "QGS_MSG_ERROR_INVALID_SIZE",
    );
    // Only part of the length prefix: INVALID_PARAMETER.
    assert.equal(
      framedError(await rawExchange(port, req.subarray(0, 2))),
      "QGS_MSG_ERROR_INVALID_PARAMETER",
    );
    // An empty frame: INVALID_PARAMETER (shorter than a header).
    assert.equal(
      framedError(await rawExchange(port, new Uint8Array(4))),
      "QGS_MSG_ERROR_INVALID_PARAMETER",
    );
    // A bare report cut short is dropped without an answer.
    assert.equal((await rawExchange(port, report.subarray(0, 600))).length, 0);
    // Connecting and leaving says nothing.
    assert.equal((await rawExchange(port, new Uint8Array(0))).length, 0);
    // Random bytes: some framed error answer or nothing, and the server keeps serving.
    const rng = new SampleRng(5);
    for (let i = 0; i < 40; i++) {
      const junk = rng.bytes(1 + rng.below(300));
      const back = await rawExchange(port, junk);
      if (back.length) assert.match(framedError(back) ?? "", /^QGS_MSG_ERROR_/);
    }
    const ok = await getQuote(spec, { port }, report);
    assert.ok(ok.ok);
  } finally {
    await qgs.close();
  }
});

Deno.test("an idle connection is closed after the timeout", async () => {
  const qgs = startQgs(spec, { generator, tcp: { port: 0 }, idleTimeoutMs: 50 });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: qgs.tcp!.port });
    await conn.write(new Uint8Array(2)); // part of a prefix, then silence
    const back = await new ExactReader(conn).read(64);
    assert.equal(back.length, 0); // closed by the server, no answer
    conn.close();
  } finally {
    await qgs.close();
  }
  assert.equal(qgs.stats().dropped, 1);
});

Deno.test("concurrent clients are all served, never more at once than the bound", async () => {
  const qgs = startQgs(spec, { generator, tcp: { port: 0 }, maxConnections: 3 });
  try {
    const results = await Promise.all(
      Array.from({ length: 24 }, () => getQuote(spec, { port: qgs.tcp!.port }, report)),
    );
    for (const r of results) {
      assert.ok(r.ok);
      assert.deepEqual(r.value.quote, expected.value);
    }
    const s = qgs.stats();
    assert.equal(s.accepted, 24);
    assert.ok(s.maxActive <= 3, `maxActive ${s.maxActive}`);
    assert.equal(s.active, 0);
  } finally {
    await qgs.close();
  }
});

Deno.test("close() waits for an open exchange; force closes it", async () => {
  const qgs = startQgs(spec, { generator, tcp: { port: 0 } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: qgs.tcp!.port });
  const req = frame(spec, quoteRequest(spec, report));
  await conn.write(req.subarray(0, 10));
  // Let the server accept it, then ask for a graceful close while the request is open.
  while (qgs.stats().active === 0) await new Promise((r) => setTimeout(r, 5));
  let closed = false;
  const closing = qgs.close().then(() => closed = true);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(closed, false);
  await conn.write(req.subarray(10));
  const back = await new ExactReader(conn).read(1 << 20);
  assert.equal(framedError(back), "QGS_MSG_SUCCESS");
  conn.close();
  await closing;
  // force: the open connection is cut at once.
  const qgs2 = startQgs(spec, { generator, tcp: { port: 0 } });
  const c2 = await Deno.connect({ hostname: "127.0.0.1", port: qgs2.tcp!.port });
  await c2.write(new Uint8Array(1));
  while (qgs2.stats().active === 0) await new Promise((r) => setTimeout(r, 5));
  await qgs2.close({ force: true });
  assert.equal((await new ExactReader(c2).read(16)).length, 0);
  c2.close();
});
