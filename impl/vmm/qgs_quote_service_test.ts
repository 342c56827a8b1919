// QgsQuoteService against scripted QGS connections: which request form goes where, how
// QGS failures become GetQuote buffer statuses, and the QuoteHost completing the
// asynchronous answer only when it has arrived.
import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { StructCodec } from "../spec/codec.ts";
import {
  type QgsConnection,
  type QgsFailure,
  QgsQuoteService,
  type QgsReply,
} from "./qgs_quote_service.ts";
import { QuoteHost, type VmmMemory } from "./quote_service.ts";

const spec = theSpec();
const codec = new StructCodec(spec);
const TDREPORT = Uint8Array.from(
  { length: spec.struct("TDREPORT_STRUCT").size as number },
  (_, i) => i & 0xFF,
);
const QUOTE = Uint8Array.of(4, 0, 2, 0, 0x81, 0, 0, 0, 0xAA);

/** A connection that answers from a script and records what it was asked. */
function scripted(reply: (kind: "getQuote" | "exchange", bytes: Uint8Array) => QgsReply) {
  const asked: { kind: string; bytes: Uint8Array }[] = [];
  const conn: QgsConnection = {
    endpoint: "scripted",
    getQuote(tdreport) {
      asked.push({ kind: "getQuote", bytes: tdreport });
      return Promise.resolve(reply("getQuote", tdreport));
    },
    exchange(message) {
      asked.push({ kind: "exchange", bytes: message });
      return Promise.resolve(reply("exchange", message));
    },
  };
  return { conn, asked };
}

const failure = (kind: QgsFailure["kind"], message = kind): QgsReply => ({
  ok: false,
  error: { kind, message },
});

Deno.test("a TDREPORT goes out as GET_QUOTE_REQ and its quote comes back", async () => {
  const { conn, asked } = scripted(() => ({ ok: true, value: QUOTE }));
  const service = new QgsQuoteService(spec, conn);
  assert.deepEqual(await service.generate(TDREPORT), { status: "GET_QUOTE_SUCCESS", quote: QUOTE });
  assert.deepEqual(asked, [{ kind: "getQuote", bytes: TDREPORT }]);
  assert.deepEqual(service.requests, [{ form: "tdreport", status: "GET_QUOTE_SUCCESS" }]);
});

Deno.test("a framed QGS request (libtdx_attest) is passed through, the answer framed back", async () => {
  const message = Uint8Array.of(1, 0, 1, 0, 0, 0, 0, 0, 9, 9);
  const answer = Uint8Array.of(1, 0, 1, 0, 1, 0, 0, 0, 7);
  const { conn, asked } = scripted(() => ({ ok: true, value: answer }));
  const service = new QgsQuoteService(spec, conn);
  const framed = codec.encode("QGS_FRAME", { length: message.length, message });
  const out = await service.generate(framed);
  assert.deepEqual(asked, [{ kind: "exchange", bytes: message }]);
  assert.deepEqual(out, {
    status: "GET_QUOTE_SUCCESS",
    quote: codec.encode("QGS_FRAME", { length: answer.length, message: answer }),
  });
});

Deno.test("QGS failures: unreachable is SERVICE_UNAVAILABLE, the rest GET_QUOTE_ERROR", async (t) => {
  const rows: [string, () => QgsReply, string][] = [
    ["cannot connect", () => failure("connect"), "GET_QUOTE_SERVICE_UNAVAILABLE"],
    ["connection broke", () => failure("io"), "GET_QUOTE_ERROR"],
    ["malformed answer", () => failure("protocol"), "GET_QUOTE_ERROR"],
    ["error answer", () => failure("server"), "GET_QUOTE_ERROR"],
    [
      "the client threw",
      () => {
        throw new Error("boom");
      },
      "GET_QUOTE_ERROR",
    ],
  ];
  for (const [name, reply, status] of rows) {
    await t.step(name, async () => {
      const service = new QgsQuoteService(spec, scripted(reply).conn);
      assert.deepEqual(await service.generate(TDREPORT), { status });
      assert.equal(service.requests[0].status, status);
      assert.ok(service.requests[0].error?.message);
      assert.ok(spec.enum("GETQUOTE_STATUS").values.some((v) => v.name === status));
    });
  }
  await t.step("input that is neither a TDREPORT nor a frame", async () => {
    const { conn, asked } = scripted(() => ({ ok: true, value: QUOTE }));
    const service = new QgsQuoteService(spec, conn);
    assert.deepEqual(await service.generate(new Uint8Array(100)), { status: "GET_QUOTE_ERROR" });
    assert.equal(asked.length, 0);
    assert.equal(service.requests[0].form, "unknown");
  });
});

class MapMemory implements VmmMemory {
  readonly bytes = new Map<bigint, number>();
  read(gpa: bigint, n: number): Uint8Array {
    return Uint8Array.from({ length: n }, (_, i) => this.bytes.get(gpa + BigInt(i)) ?? 0);
  }
  write(gpa: bigint, b: Uint8Array): void {
    b.forEach((x, i) => this.bytes.set(gpa + BigInt(i), x));
  }
}

Deno.test("QuoteHost: an asynchronous answer completes the request at the first tick after it", async () => {
  const GPA = 0x10_0000n;
  const mem = new MapMemory();
  mem.write(
    GPA,
    codec.encode("GETQUOTE_BUFFER", {
      status: 0n,
      in_len: TDREPORT.length,
      out_len: 0,
      data: TDREPORT,
    }),
  );
  let answer!: (r: QgsReply) => void;
  const conn: QgsConnection = {
    endpoint: "later",
    getQuote: () => new Promise((resolve) => (answer = resolve)),
    exchange: () => Promise.reject(new Error("unused")),
  };
  const host = new QuoteHost(spec, mem, { service: new QgsQuoteService(spec, conn) });
  const status = () =>
    spec.enum("GETQUOTE_STATUS").values.find((v) =>
      BigInt(v.value) === new DataView(mem.read(GPA + 8n, 8).buffer).getBigUint64(0, true)
    )?.name;
  assert.equal(host.request(GPA, 0x2000n), "TDG.VP.VMCALL_SUCCESS");
  assert.equal(status(), "GET_QUOTE_IN_FLIGHT");
  assert.ok(host.awaitingAnswer);
  host.tick();
  assert.equal(status(), "GET_QUOTE_IN_FLIGHT");
  answer({ ok: true, value: QUOTE });
  await host.nextAnswer(60_000);
  assert.equal(host.awaitingAnswer, false);
  assert.equal(status(), "GET_QUOTE_IN_FLIGHT");
  host.tick();
  assert.equal(status(), "GET_QUOTE_SUCCESS");
  const b = codec.decode("GETQUOTE_BUFFER", mem.read(GPA, 24 + QUOTE.length)).value;
  assert.equal(b.out_len, QUOTE.length);
  assert.deepEqual(b.data, QUOTE);
  // Nothing awaited: nextAnswer returns at once.
  await host.nextAnswer(60_000);
});

Deno.test("QuoteHost: an unavailable service's answer reaches the buffer as SERVICE_UNAVAILABLE", () => {
  const GPA = 0x10_0000n;
  const mem = new MapMemory();
  mem.write(
    GPA,
    codec.encode("GETQUOTE_BUFFER", { status: 0n, in_len: 4, out_len: 0, data: new Uint8Array(4) }),
  );
  const host = new QuoteHost(spec, mem, {
    service: { generate: () => ({ status: "GET_QUOTE_SERVICE_UNAVAILABLE" }) },
  });
  assert.equal(host.request(GPA, 0x1000n), "TDG.VP.VMCALL_SUCCESS");
  const b = codec.decode("GETQUOTE_BUFFER", mem.read(GPA, 28)).value;
  assert.equal(b.status, spec.enumValue("GETQUOTE_STATUS", "GET_QUOTE_SERVICE_UNAVAILABLE"));
});
