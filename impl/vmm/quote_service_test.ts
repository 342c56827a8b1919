import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { StructCodec } from "../spec/codec.ts";
import {
  EchoQuoteService,
  GET_QUOTE_MAX_BUF_LEN,
  MAX_QUOTES_IN_FLIGHT,
  QuoteHost,
  type QuoteHostOptions,
  type VmmMemory,
} from "./quote_service.ts";

const spec = theSpec();
const codec = new StructCodec(spec);

class MapMemory implements VmmMemory {
  readonly bytes = new Map<bigint, number>();
  read(gpa: bigint, n: number): Uint8Array {
    return Uint8Array.from({ length: n }, (_, i) => this.bytes.get(gpa + BigInt(i)) ?? 0);
  }
  write(gpa: bigint, b: Uint8Array): void {
    b.forEach((x, i) => this.bytes.set(gpa + BigInt(i), x));
  }
}

const GPA = 0x100_0000n;
const SIZE = 0x2000n;
const INPUT = Uint8Array.from({ length: 100 }, (_, i) => i);

function setup(opts: QuoteHostOptions, header: Partial<Record<string, unknown>> = {}) {
  const mem = new MapMemory();
  mem.write(
    GPA,
    codec.encode("GETQUOTE_BUFFER", {
      status: 0n,
      in_len: INPUT.length,
      out_len: 0,
      data: INPUT,
      ...header,
    } as never),
  );
  return { mem, host: new QuoteHost(spec, mem, opts) };
}

function status(mem: MapMemory): string {
  const v = new DataView(mem.read(GPA + 8n, 8).buffer).getBigUint64(0, true);
  return spec.enum("GETQUOTE_STATUS").values.find((x) => BigInt(x.value) === v)?.name ?? `${v}`;
}

Deno.test("GetQuote: the service's quote lands in the buffer with SUCCESS and out_len", () => {
  const { mem, host } = setup({ service: new EchoQuoteService() });
  assert.equal(host.request(GPA, SIZE), "TDG.VP.VMCALL_SUCCESS");
  const b = codec.decode("GETQUOTE_BUFFER", mem.read(GPA, 24 + INPUT.length)).value;
  assert.equal(status(mem), "GET_QUOTE_SUCCESS");
  assert.equal(b.out_len, INPUT.length);
  assert.deepEqual(b.data, INPUT);
});

Deno.test("GetQuote: a slow service leaves the buffer in flight until its turn", () => {
  const { mem, host } = setup({ service: new EchoQuoteService(), latency: 2 });
  assert.equal(host.request(GPA, SIZE), "TDG.VP.VMCALL_SUCCESS");
  assert.equal(status(mem), "GET_QUOTE_IN_FLIGHT");
  host.tick();
  host.tick();
  assert.equal(status(mem), "GET_QUOTE_IN_FLIGHT");
  host.tick();
  assert.equal(status(mem), "GET_QUOTE_SUCCESS");
  assert.equal(host.inFlight, 0);
});

Deno.test("GetQuote: no service configured answers SERVICE_UNAVAILABLE at once", () => {
  const { mem, host } = setup({});
  assert.equal(host.request(GPA, SIZE), "TDG.VP.VMCALL_SUCCESS");
  assert.equal(status(mem), "GET_QUOTE_SERVICE_UNAVAILABLE");
});

Deno.test("GetQuote: a failing service, or a quote too big for the buffer, is GET_QUOTE_ERROR", () => {
  const a = setup({ service: { generate: () => ({ status: "GET_QUOTE_ERROR" }) } });
  a.host.request(GPA, SIZE);
  assert.equal(status(a.mem), "GET_QUOTE_ERROR");
  const big = setup({
    service: { generate: () => ({ status: "GET_QUOTE_SUCCESS", quote: new Uint8Array(0x3000) }) },
  });
  big.host.request(GPA, SIZE);
  assert.equal(status(big.mem), "GET_QUOTE_ERROR");
});

Deno.test("GetQuote: TDVMCALL statuses for bad requests (QEMU's checks)", async (t) => {
  const rows: [string, string, () => string][] = [
    ["size 0", "TDG.VP.VMCALL_INVALID_OPERAND", () => setup({}).host.request(GPA, 0n)],
    [
      "GPA not 4 KiB aligned",
      "TDG.VP.VMCALL_ALIGN_ERROR",
      () => setup({}).host.request(GPA + 8n, SIZE),
    ],
    [
      "size not 4 KiB aligned",
      "TDG.VP.VMCALL_ALIGN_ERROR",
      () => setup({}).host.request(GPA, 0x1800n),
    ],
    [
      "header version not 1",
      "TDG.VP.VMCALL_INVALID_OPERAND",
      () => {
        const s = setup({});
        s.mem.write(GPA, new Uint8Array(8));
        return s.host.request(GPA, SIZE);
      },
    ],
    [
      "buffer larger than 128 KiB",
      "TDG.VP.VMCALL_INVALID_OPERAND",
      () => setup({}).host.request(GPA, BigInt(GET_QUOTE_MAX_BUF_LEN) + 0x1000n),
    ],
    [
      "in_len beyond the buffer",
      "TDG.VP.VMCALL_INVALID_OPERAND",
      () => setup({}, { in_len: 0x2000 }).host.request(GPA, SIZE),
    ],
    [
      "too many requests in flight",
      "TDG.VP.VMCALL_RETRY",
      () => {
        const s = setup({ service: new EchoQuoteService(), latency: 100 });
        for (let i = 0; i < MAX_QUOTES_IN_FLIGHT; i++) {
          s.mem.write(GPA + SIZE * BigInt(i + 1), s.mem.read(GPA, 24 + INPUT.length));
          assert.equal(s.host.request(GPA + SIZE * BigInt(i + 1), SIZE), "TDG.VP.VMCALL_SUCCESS");
        }
        return s.host.request(GPA, SIZE);
      },
    ],
  ];
  for (const [name, expected, run] of rows) {
    await t.step(name, () => {
      assert.equal(run(), expected);
      assert.ok(spec.tdvmcall("GetQuote").statuses.some((s) => s.status === expected));
    });
  }
});

Deno.test("SetupEventNotifyInterrupt: vectors 32..255 only; completions notify that vCPU", () => {
  const { host } = setup({ service: new EchoQuoteService() });
  assert.equal(host.setupNotify(31n, 0), "TDG.VP.VMCALL_INVALID_OPERAND");
  assert.equal(host.setupNotify(256n, 0), "TDG.VP.VMCALL_INVALID_OPERAND");
  assert.equal(host.setupNotify(0x40n, 1), "TDG.VP.VMCALL_SUCCESS");
  host.request(GPA, SIZE);
  assert.deepEqual(host.delivered, [{ vector: 0x40, vcpu: 1 }]);
});
