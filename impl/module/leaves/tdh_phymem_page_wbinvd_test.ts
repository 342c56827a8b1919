import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { lockKey } from "../locks.ts";

interface Row {
  name: string;
  before?: (p: Platform) => void;
  page: (p: Platform) => bigint;
  setup?: (p: Platform, page: bigint) => void;
  raxExtra?: bigint;
  want: Expected;
}

const hkid = 40;
const withHkid = (p: Platform, pa: bigint) => p.cpu.memory.withKeyId(pa, hkid);

const ROWS: Row[] = [
  {
    name: "a free page with a TD's HKID",
    page: (p) => withHkid(p, p.allocPage()),
    want: { name: "TDX_SUCCESS" },
  },
  {
    name: "a free page without an HKID",
    page: (p) => p.allocPage(),
    want: { name: "TDX_SUCCESS" },
  },
  {
    name: "RAX reserved bits",
    page: (p) => p.allocPage(),
    raxExtra: 1n << 24n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module shut down",
    page: (p) => p.allocPage(),
    setup: (p) =>
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
    page: (p) => withHkid(p, p.allocPage() + 0x40n),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "above MAX_PA",
    page: () => 1n << 52n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "outside the TDMRs",
    page: (p) => withHkid(p, 7n << 30n),
    want: { name: "TDX_OPERAND_ADDR_RANGE_ERROR", operand: "RCX" },
  },
  {
    name: "PAMT entry locked exclusively",
    page: (p) => withHkid(p, p.allocPage()),
    setup: (p, page) =>
      void p.module.state.locks.hold(lockKey.page(page & p.cpu.memory.addressMask), "exclusive"),
    want: { name: "TDX_OPERAND_BUSY", operand: "RCX" },
  },
  {
    name: "a page still owned by a TD",
    page: (p) => withHkid(p, p.createTd().tdr),
    want: { name: "TDX_PAGE_METADATA_INCORRECT", operand: "RCX" },
  },
  {
    name: "part of a 2 MiB TD page",
    page: (p) => {
      const td = p.createTd();
      const base = p.allocRange(2n << 20n, 2n << 20n);
      p.module.state.pamt.set(base, { pageType: "PT_REG", owner: td.tdr, level: 1 });
      return withHkid(p, base + 0x1000n);
    },
    want: { name: "TDX_PAGE_METADATA_INCORRECT", operand: "RCX" },
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.PHYMEM.PAGE.WBINVD: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    (row.before ?? ((q: Platform) => q.readyPlatform()))(p);
    const page = row.page(p);
    row.setup?.(p, page);
    const r = p.seamcallRaw("TDH.PHYMEM.PAGE.WBINVD", { page_pa_with_hkid: page }, {
      raxExtra: row.raxExtra,
    });
    expectStatus(r, row.want, row.name);
  });
}
