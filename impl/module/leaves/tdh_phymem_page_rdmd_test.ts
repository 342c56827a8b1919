import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { lockKey } from "../locks.ts";
import type { CreatedTd } from "../testing/td_fixture.ts";

interface Ctx {
  p: Platform;
  td: CreatedTd;
}

interface Row {
  name: string;
  before?: (p: Platform) => void;
  page: (c: Ctx) => bigint;
  setup?: (c: Ctx) => void;
  raxExtra?: bigint;
  want: Expected;
  out?: (c: Ctx) => Record<string, bigint | string>;
}

const pt = (p: Platform, n: string) => p.spec.enumValue("PAGE_TYPE", n);

const ROWS: Row[] = [
  {
    name: "a TDR",
    page: ({ td }) => td.tdr,
    want: { name: "TDX_SUCCESS" },
    out: () => ({ page_type: "PT_TDR", owner: 0n, page_size: 0n }),
  },
  {
    name: "a TDCS page",
    page: ({ td }) => td.tdcx[1],
    want: { name: "TDX_SUCCESS" },
    out: ({ td }) => ({ page_type: "PT_TDCX", owner: td.tdr, page_size: 0n }),
  },
  {
    name: "a host page",
    page: ({ p }) => p.allocPage(),
    want: { name: "TDX_SUCCESS" },
    out: () => ({ page_type: "PT_NDA", owner: 0n, page_size: 0n }),
  },
  {
    name: "a TD page in a 2 MiB leaf, blocked",
    page: ({ p, td }) => {
      const base = p.allocRange(2n << 20n, 2n << 20n);
      p.module.state.pamt.set(base, { pageType: "PT_REG", owner: td.tdr, level: 1, bepoch: 7n });
      return base + 0x5000n;
    },
    want: { name: "TDX_SUCCESS" },
    out: ({ td }) => ({ page_type: "PT_REG", owner: td.tdr, page_size: 1n, bepoch: 7n }),
  },
  {
    name: "RAX reserved bits",
    page: ({ td }) => td.tdr,
    raxExtra: 1n << 24n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module shut down",
    page: ({ td }) => td.tdr,
    setup: ({ p }) =>
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS"),
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  {
    name: "module not ready",
    before: (p) => p.initLps(),
    page: () => 0x1000n,
    want: { name: "TDX_SYS_NOT_READY" },
  },
  {
    name: "not 4 KiB aligned",
    page: ({ td }) => td.tdr + 8n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "HKID bits",
    page: ({ p, td }) => p.cpu.memory.withKeyId(td.tdr, 1),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "above MAX_PA",
    page: () => 1n << 52n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "outside the TDMRs",
    page: () => 3n << 30n,
    want: { name: "TDX_OPERAND_ADDR_RANGE_ERROR", operand: "RCX" },
  },
  {
    name: "PAMT entry locked exclusively",
    page: ({ td }) => td.tdr,
    setup: ({ p, td }) => void p.module.state.locks.hold(lockKey.page(td.tdr), "exclusive"),
    want: { name: "TDX_OPERAND_BUSY", operand: "RCX" },
  },
];

/** The dispatcher's refusals (RAX, shutdown, not ready) leave the registers as they were. */
function byLeaf(w: Expected): boolean {
  return w.operand !== "RAX" && w.name !== "TDX_SYS_SHUTDOWN" && w.name !== "TDX_SYS_NOT_READY";
}

for (const row of ROWS) {
  Deno.test(`TDH.PHYMEM.PAGE.RDMD: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    let td: CreatedTd = { tdr: 0n, hkid: 0, tdcx: [] };
    if (row.before) row.before(p);
    else td = p.createTd();
    const c = { p, td };
    const page = row.page(c);
    row.setup?.(c);
    const r = p.seamcallRaw("TDH.PHYMEM.PAGE.RDMD", { page_pa: page }, { raxExtra: row.raxExtra });
    expectStatus(r, row.want, row.name);
    if (row.out) {
      const want = row.out(c);
      for (const [k, v] of Object.entries(want)) {
        assert.equal(r.out[k], typeof v === "string" ? pt(p, v) : v, k);
      }
      if (!("bepoch" in want)) assert.equal(r.out.bepoch, 0n);
    } else if (byLeaf(row.want)) {
      assert.equal(r.out.page_type, 0n);
      assert.equal(r.out.owner, 0n);
    }
  });
}
