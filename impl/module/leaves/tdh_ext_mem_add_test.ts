import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { lockKey } from "../locks.ts";
import { encodeBits } from "../../spec/bits.ts";
import { hpaList, quoteAddOn, readGlobal } from "../testing/extension_steps.ts";

interface Row {
  name: string;
  /** Default: ready with the Quoting extension selected. */
  before?: (p: Platform) => void;
  /** The pages to list (default three fresh pages) and how to spoil the operand. */
  pages?: (p: Platform) => bigint[];
  info?: (p: Platform, info: bigint) => bigint;
  setup?: (p: Platform, pages: bigint[]) => void;
  raxExtra?: bigint;
  want: Expected;
}

const readyQuote = (p: Platform) => p.readyPlatform({ addOnFeatures: quoteAddOn(p) });
const field = (p: Platform, info: bigint, f: Record<string, bigint>) => {
  const layout = p.spec.bitfield("HPA_LIST_INFO").fields;
  const cur = p.cpu.msrs.decode("HPA_LIST_INFO", info);
  return encodeBits(layout, { ...cur, ...f });
};

const ROWS: Row[] = [
  { name: "success", want: { name: "TDX_SUCCESS" } },
  {
    name: "interrupt pending",
    setup: (p) => p.cpu.pendHostInterrupt(0, true),
    want: { name: "TDX_INTERRUPTED_RESUMABLE" },
  },
  {
    name: "RAX reserved bits",
    raxExtra: 1n << 24n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module without extensions",
    before: (p) => {
      const prof = p.module.state.profile;
      prof.features0 = prof.features0.filter((f) => f !== "EXT" && f !== "QUOTE");
      p.readyPlatform();
    },
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module shut down",
    before: (p) => {
      readyQuote(p);
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS");
    },
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  { name: "module not ready", before: (p) => p.initLps(), want: { name: "TDX_SYS_NOT_READY" } },
  {
    name: "HPA_LIST_INFO reserved bits",
    info: (p, i) => field(p, i, { RESERVED_0: 1n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "first entry after the last",
    info: (p, i) => field(p, i, { FIRST_ENTRY: 5n, LAST_ENTRY: 2n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "HPA list page with a private HKID",
    info: (p, i) =>
      i | (BigInt(p.cpu.platform.sharedKeyIds + 1) << BigInt(p.cpu.memory.keyIdShift)),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "listed page not 4 KiB aligned",
    pages: (p) => [p.allocPage(), p.allocPage() + 0x10n],
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "listed page with HKID bits",
    pages: (p) => [p.cpu.memory.withKeyId(p.allocPage(), 2)],
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "listed page outside the TDMRs",
    pages: () => [8n << 30n],
    want: { name: "TDX_OPERAND_ADDR_RANGE_ERROR", operand: "RCX" },
  },
  {
    name: "listed page locked",
    setup: (p, pages) => void p.module.state.locks.hold(lockKey.page(pages[1]), "shared"),
    want: { name: "TDX_OPERAND_BUSY", operand: "RCX" },
  },
  {
    name: "listed page in a reserved area",
    pages: (p) => {
      const t = p.module.state.platform.tdmrs[0];
      return [t.base + t.reserved[0].offset];
    },
    want: { name: "TDX_PAGE_METADATA_INCORRECT", operand: "RCX" },
  },
  {
    name: "listed page given twice",
    pages: (p) => {
      const pa = p.allocPage();
      return [pa, pa];
    },
    want: { name: "TDX_PAGE_METADATA_INCORRECT", operand: "RCX" },
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.EXT.MEM.ADD: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    (row.before ?? readyQuote)(p);
    const pages = row.pages?.(p) ?? [p.allocPage(), p.allocPage(), p.allocPage()];
    let info = hpaList(p, pages);
    info = row.info?.(p, info) ?? info;
    row.setup?.(p, pages);
    const r = p.seamcallRaw("TDH.EXT.MEM.ADD", { hpa_list_info: info }, { raxExtra: row.raxExtra });
    expectStatus(r, row.want, row.name);
    const pool = p.module.state.platform.extensions.memory;
    if (row.want.name === "TDX_SUCCESS") {
      assert.deepEqual(pool, pages);
      for (const pa of pages) assert.equal(p.module.state.pamt.get(pa).pageType, "PT_RSVD");
      assert.equal(
        readGlobal(p, "MEMORY_POOL_REQUIRED_PAGES"),
        BigInt(p.module.state.profile.extensions.memoryPoolPages - pages.length),
      );
    }
    if (row.want.name === "TDX_INTERRUPTED_RESUMABLE") {
      // One page went in; RCX says to carry on from the second.
      assert.deepEqual(pool, pages.slice(0, 1));
      const next = p.cpu.msrs.decode("HPA_LIST_INFO", r.out.hpa_list_info);
      assert.equal(next.FIRST_ENTRY, 1n);
      p.cpu.pendHostInterrupt(0, false);
      expectStatus(p.seamcall("TDH.EXT.MEM.ADD", { hpa_list_info: r.out.hpa_list_info }), {
        name: "TDX_SUCCESS",
      });
      assert.deepEqual(pool, pages);
    }
  });
}
