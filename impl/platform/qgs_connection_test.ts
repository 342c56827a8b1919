// The VMM's QGS connections: endpoint syntax, the in-process handler and a QGS on
// 127.0.0.1 give the same quote for a TDREPORT, pass a raw message through, and say
// which side failed.
import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { encodeBits } from "../spec/bits.ts";
import { makeQuoteGenerator } from "../attest/quote/quote_generate.ts";
import { sampleTdreport } from "../attest/quote/tdreport_sample.ts";
import { startQgs } from "../attest/qgs/server.ts";
import { parseResponse } from "../attest/qgs/client.ts";
import { platformInfoRequest } from "../attest/qgs/messages.ts";
import { describeEndpoint, inProcessQgs, parseQgsEndpoint, socketQgs } from "./qgs_connection.ts";

const spec = theSpec();
const generator = makeQuoteGenerator(spec, new TextEncoder().encode("qgs connection test"));
const report = sampleTdreport(spec, 5, {
  tdInfo: {
    attributes: encodeBits(spec.bitfield("TD_ATTRIBUTES").fields, { SEPT_VE_DISABLE: 1n }),
  },
});
const expected = generator.generate(report);
if (!expected.ok) throw new Error(expected.error.message);

Deno.test("parseQgsEndpoint: tcp:PORT, tcp:HOST:PORT, unix:PATH; anything else is named", () => {
  assert.deepEqual(parseQgsEndpoint("tcp:4050"), { port: 4050 });
  assert.deepEqual(parseQgsEndpoint("tcp:localhost:4050"), { hostname: "localhost", port: 4050 });
  assert.deepEqual(parseQgsEndpoint("unix:/run/qgs.sock"), { path: "/run/qgs.sock" });
  assert.equal(describeEndpoint({ port: 4050 }), "tcp:127.0.0.1:4050");
  assert.equal(describeEndpoint({ path: "/run/qgs.sock" }), "unix:/run/qgs.sock");
  assert.match(parseQgsEndpoint("tcp:0") as string, /port 0 is not in 1-65535/);
  assert.match(parseQgsEndpoint("tcp:99999") as string, /port 99999/);
  for (const bad of ["vsock:2:4050", "4050", "unix:", "tcp:"]) {
    assert.match(parseQgsEndpoint(bad) as string, /is not tcp:PORT, tcp:HOST:PORT or unix:PATH/);
  }
});

Deno.test("in-process and TCP QGS connections give the generator's quote", async () => {
  const local = inProcessQgs({ spec, generator });
  assert.deepEqual(await local.getQuote(report), { ok: true, value: expected.value });
  const qgs = startQgs(spec, { generator, tcp: { port: 0 } });
  try {
    const remote = socketQgs(spec, { port: qgs.tcp!.port });
    assert.equal(remote.endpoint, `tcp:127.0.0.1:${qgs.tcp!.port}`);
    assert.deepEqual(await remote.getQuote(report), { ok: true, value: expected.value });
    // A message passes through as it is; the answer comes back unframed.
    for (const conn of [local, remote]) {
      const r = await conn.exchange(platformInfoRequest(spec));
      assert.ok(r.ok);
      const info = parseResponse(
        spec,
        r.value,
        "QGS_GET_PLATFORM_INFO_RESP",
        "GET_PLATFORM_INFO_RESP",
      );
      assert.ok(info.ok);
      assert.equal(info.value.pce_isvsvn, generator.platform.pck.pceSvn);
    }
  } finally {
    await qgs.close();
  }
});

Deno.test("failures say which side failed: nobody listening, a QGS error answer", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const none = await socketQgs(spec, { port }).getQuote(report);
  assert.equal(!none.ok && none.error.kind, "connect");
  // The generator refuses a report that is not a TDX TDREPORT: UNEXPECTED from the QGS.
  const r = await inProcessQgs({ spec, generator }).getQuote(new Uint8Array(report.length));
  assert.deepEqual(r, {
    ok: false,
    error: {
      kind: "server",
      code: "QGS_MSG_ERROR_UNEXPECTED",
      message: "the QGS answered QGS_MSG_ERROR_UNEXPECTED",
    },
  });
});
