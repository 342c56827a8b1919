import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { lockKey } from "../locks.ts";
import type { CreatedTd } from "../testing/td_fixture.ts";
import { readyWithQuoting } from "../testing/extension_steps.ts";
import type { QuoteSigner } from "../quote_signer.ts";

const PAGE = 4096n;
const END = 0xFFFF_FFFF_FFFF_FFFFn;

/** A stand-in signer for tests: its "quote" is the input's hash repeated to `size` bytes. */
function testSigner(size: number): QuoteSigner & { inputs: Uint8Array[] } {
  const inputs: Uint8Array[] = [];
  return {
    inputs,
    sign(tdreport) {
      inputs.push(tdreport);
      const h = createHash("sha384").update(tdreport).digest();
      return Uint8Array.from({ length: size }, (_, i) => h[i % h.length]);
    },
  };
}

interface Env {
  p: Platform;
  td: CreatedTd;
  input: bigint;
  list: bigint;
  pages: bigint[];
}

/** An HPA_LINKED_LIST of one node listing `pages`. */
function linkedList(p: Platform, pages: bigint[]): bigint {
  const node = p.allocPage();
  const bytes = new Uint8Array(4096);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 512; i++) view.setBigUint64(8 * i, i < pages.length ? pages[i] : END, true);
  p.cpu.memory.write(node, bytes);
  return node;
}

function env(p: Platform, quoteSize = 6000): Env {
  readyWithQuoting(p);
  p.module.state.quoteSigner = testSigner(quoteSize);
  const td = p.createTd();
  const input = p.allocPage();
  p.cpu.memory.write(input, new TextEncoder().encode("a TDREPORT stands here".padEnd(1024, ".")));
  const pages = [p.allocPage(), p.allocPage()];
  return { p, td, input, pages, list: linkedList(p, pages) };
}

function inputs(e: Env): Record<string, bigint> {
  return {
    tdr_pa: e.td.tdr,
    quote_params: 0xFFFFn << 32n,
    input_data_pa: e.input,
    input_data_len: 1024n,
    hpa_linked_list_pa: e.list,
    buffer_len: 2n * PAGE,
  };
}

interface Row {
  name: string;
  before?: (p: Platform) => Env | undefined;
  setup?: (e: Env) => void;
  inputs?: (e: Env) => Record<string, bigint>;
  raxExtra?: bigint;
  want: Expected;
}

const ROWS: Row[] = [
  { name: "success", want: { name: "TDX_SUCCESS" } },
  {
    name: "interrupt pending",
    setup: ({ p }) => p.cpu.pendHostInterrupt(0, true),
    want: { name: "TDX_INTERRUPTED_RESUMABLE" },
  },
  {
    name: "interrupt pending after the first page",
    setup: ({ p }) => {
      // The interrupt arrives once signing is done, while the first page is written.
      const signer = p.module.state.quoteSigner!;
      const sign = signer.sign.bind(signer);
      signer.sign = (r) => {
        const q = sign(r);
        const write = p.cpu.memory.write.bind(p.cpu.memory);
        p.cpu.memory.write = (pa, bytes) => {
          write(pa, bytes);
          p.cpu.pendHostInterrupt(0, true);
        };
        return q;
      };
    },
    want: { name: "TDX_INTERRUPTED_RESUMABLE" },
  },
  {
    name: "RAX reserved bits",
    raxExtra: 1n << 24n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module without the Quoting extension",
    before: (p) => {
      const prof = p.module.state.profile;
      prof.features0 = prof.features0.filter((f) => f !== "QUOTE");
      p.readyPlatform();
      return undefined;
    },
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module shut down",
    setup: ({ p }) =>
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS"),
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  {
    name: "module not ready",
    before: (p) => {
      p.initLps();
      return undefined;
    },
    want: { name: "TDX_SYS_NOT_READY" },
  },
  {
    name: "no quote signer configured",
    setup: ({ p }) => (p.module.state.quoteSigner = undefined),
    want: { name: "TDX_SYS_STATE_INCORRECT" },
  },
  {
    name: "TDH.QUOTE.INIT not done",
    before: (p) => {
      p.readyPlatform();
      p.module.state.quoteSigner = testSigner(100);
      return undefined;
    },
    want: { name: "TDX_SYS_STATE_INCORRECT" },
  },
  {
    name: "TDR not aligned",
    inputs: (e) => ({ ...inputs(e), tdr_pa: e.td.tdr + 8n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "TDR outside the TDMRs",
    inputs: (e) => ({ ...inputs(e), tdr_pa: 9n << 30n }),
    want: { name: "TDX_OPERAND_ADDR_RANGE_ERROR", operand: "RCX" },
  },
  {
    name: "TDR locked",
    setup: (e) => void e.p.module.state.locks.hold(lockKey.page(e.td.tdr), "exclusive"),
    want: { name: "TDX_OPERAND_BUSY", operand: "RCX" },
  },
  {
    name: "not a TDR",
    inputs: (e) => ({ ...inputs(e), tdr_pa: e.td.tdcx[0] }),
    want: { name: "TDX_PAGE_METADATA_INCORRECT", operand: "RCX" },
  },
  {
    name: "TD keys not configured",
    inputs: (e) => ({ ...inputs(e), tdr_pa: e.p.createTd({ stage: "created" }).tdr }),
    want: { name: "TDX_LIFECYCLE_STATE_INCORRECT" },
  },
  {
    name: "QUOTE_ID not the default format",
    inputs: (e) => ({ ...inputs(e), quote_params: 1n << 32n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RDX" },
  },
  {
    name: "unknown RDX bits",
    inputs: (e) => ({ ...inputs(e), quote_params: (0xFFFFn << 32n) | 1n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RDX" },
  },
  {
    name: "input data not page aligned",
    inputs: (e) => ({ ...inputs(e), input_data_pa: e.input + 64n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R8" },
  },
  {
    name: "input data with a private HKID",
    inputs: (e) => ({ ...inputs(e), input_data_pa: e.p.cpu.memory.withKeyId(e.input, e.td.hkid) }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R8" },
  },
  {
    name: "no input data",
    inputs: (e) => ({ ...inputs(e), input_data_len: 0n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R9" },
  },
  {
    name: "input data over a page",
    inputs: (e) => ({ ...inputs(e), input_data_len: PAGE + 1n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R9" },
  },
  {
    name: "list node not aligned",
    inputs: (e) => ({ ...inputs(e), hpa_linked_list_pa: e.list + 8n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R10" },
  },
  {
    name: "list shorter than the buffer length",
    inputs: (e) => ({ ...inputs(e), hpa_linked_list_pa: linkedList(e.p, e.pages.slice(0, 1)) }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R10" },
  },
  {
    name: "an output page in SEAMRR",
    inputs: (e) => ({
      ...inputs(e),
      hpa_linked_list_pa: linkedList(e.p, [e.pages[0], e.p.cpu.platform.seamrr.base]),
    }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R10" },
  },
  {
    name: "buffer below the maximum quote size",
    inputs: (e) => ({ ...inputs(e), buffer_len: PAGE }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R11" },
  },
  {
    name: "quote larger than the buffer",
    setup: ({ p }) => (p.module.state.quoteSigner = testSigner(3 * 4096)),
    want: { name: "TDX_OPERAND_INVALID", operand: "R11" },
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.QUOTE.GET: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    const e = row.before ? row.before(p) : env(p);
    const fallback = { tdr_pa: 0n };
    if (e) row.setup?.(e);
    const args = e ? (row.inputs ?? inputs)(e) : fallback;
    const r = p.seamcallRaw("TDH.QUOTE.GET", args, { raxExtra: row.raxExtra });
    expectStatus(r, row.want, row.name);
    if (row.want.name === "TDX_SUCCESS" && e) {
      assert.equal(r.out.quote_len, 6000n);
      const signer = p.module.state.quoteSigner as ReturnType<typeof testSigner>;
      const quote = signer.sign(p.cpu.memory.read(e.input, 1024));
      const written = new Uint8Array([
        ...p.cpu.memory.read(e.pages[0], 4096),
        ...p.cpu.memory.read(e.pages[1], 6000 - 4096),
      ]);
      assert.deepEqual(written, quote);
    }
    if (row.want.name === "TDX_INTERRUPTED_RESUMABLE" && e) {
      // Stopped after signing nothing is written yet, after a page only that page; either
      // way the same call again finishes the quote.
      const first = p.cpu.memory.read(e.pages[0], 16);
      if (row.name === "interrupt pending") assert.deepEqual(first, new Uint8Array(16));
      else assert.notDeepEqual(first, new Uint8Array(16));
      p.cpu.pendHostInterrupt(0, false);
      const again = p.seamcall("TDH.QUOTE.GET", inputs(e));
      expectStatus(again, { name: "TDX_SUCCESS" });
      assert.equal(again.out.quote_len, 6000n);
      const signer = p.module.state.quoteSigner as ReturnType<typeof testSigner>;
      assert.equal(signer.inputs.length, 1, "the quote is produced once");
    }
  });
}
