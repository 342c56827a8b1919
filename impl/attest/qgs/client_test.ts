// The client checks answers the way Intel's message library inflates them: malformed
// answers are protocol errors, a silent or vanished QGS is an I/O error, and no answer
// makes it throw.
import { strict as assert } from "node:assert";
import { theSpec } from "../../spec/mod.ts";
import { fieldOffset, structSize } from "../spec_facts.ts";
import { getQuote, parseResponse } from "./client.ts";
import { errorResponse } from "./messages.ts";
import { frame } from "./framing.ts";

const spec = theSpec();
const report = new Uint8Array(structSize(spec, "TDREPORT_STRUCT"));

function setU32(b: Uint8Array, field: string, v: number, struct = "QGS_MSG_HEADER") {
  new DataView(b.buffer, b.byteOffset).setUint32(fieldOffset(spec, struct, field), v, true);
}

Deno.test("malformed answers are protocol errors with the library's code", async (t) => {
  const base = errorResponse(spec, "GET_QUOTE_RESP", "QGS_MSG_ERROR_UNEXPECTED");
  const edit = (f: (b: Uint8Array) => void) => {
    const b = base.slice();
    f(b);
    return b;
  };
  const cases: [string, Uint8Array, string][] = [
    ["too short", base.subarray(0, 20), "QGS_MSG_ERROR_INVALID_PARAMETER"],
    ["other major version", edit((b) => b[0] = 9), "QGS_MSG_ERROR_INVALID_VERSION"],
    ["wrong type", edit((b) => setU32(b, "type", 0)), "QGS_MSG_ERROR_INVALID_TYPE"],
    ["size disagrees", edit((b) => setU32(b, "size", 99)), "QGS_MSG_ERROR_INVALID_SIZE"],
    [
      "error code out of range",
      edit((b) => setU32(b, "error_code", 0x99999)),
      "QGS_MSG_ERROR_INVALID_CODE",
    ],
    [
      "error with a payload",
      edit((b) => setU32(b, "quote_size", 5, "QGS_GET_QUOTE_RESP")),
      "QGS_MSG_ERROR_INVALID_SIZE",
    ],
    [
      "success without a quote",
      edit((b) => setU32(b, "error_code", 0)),
      "QGS_MSG_ERROR_INVALID_SIZE",
    ],
  ];
  for (const [name, msg, code] of cases) {
    await t.step(name, () => {
      const r = parseResponse(spec, msg, "QGS_GET_QUOTE_RESP", "GET_QUOTE_RESP");
      assert.ok(!r.ok);
      assert.equal(r.error.kind, "protocol");
      assert.equal(r.error.code, code);
    });
  }
});

/** A fake QGS that answers every connection with `reply` (or nothing) and closes. */
function fakeQgs(reply: Uint8Array | undefined, hold = false) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      if (reply) await conn.write(reply);
      if (!hold) conn.close();
    }
  })();
  return {
    port: listener.addr.port,
    async stop() {
      listener.close();
      await done;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

Deno.test("a QGS that hangs up, sends junk or stays silent gives an error value", async () => {
  const hangUp = fakeQgs(undefined);
  const r1 = await getQuote(spec, { port: hangUp.port }, report);
  await hangUp.stop();
  assert.ok(!r1.ok);
  assert.equal(r1.error.kind, "io");

  const huge = new Uint8Array([0x7f, 0xff, 0xff, 0xff]);
  const liar = fakeQgs(huge);
  const r2 = await getQuote(spec, { port: liar.port }, report);
  await liar.stop();
  assert.ok(!r2.ok);
  assert.equal(r2.error.kind, "protocol");

  const cut = fakeQgs(frame(spec, new Uint8Array(100)).subarray(0, 50));
  const r3 = await getQuote(spec, { port: cut.port }, report);
  await cut.stop();
  assert.ok(!r3.ok);
  assert.equal(r3.error.kind, "io");

  const silent = fakeQgs(undefined, true);
  const r4 = await getQuote(spec, { port: silent.port }, report, { timeoutMs: 50 });
  await silent.stop();
  assert.ok(!r4.ok);
  assert.equal(r4.error.kind, "io");
  assert.match(r4.error.message, /in time/);
});
