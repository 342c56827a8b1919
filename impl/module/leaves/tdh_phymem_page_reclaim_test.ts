import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { lockKey } from "../locks.ts";
import type { CreatedTd } from "../testing/td_fixture.ts";
import { teardownTd } from "../testing/td_teardown.ts";

interface Ctx {
  p: Platform;
  td: CreatedTd;
}

interface Row {
  name: string;
  before?: (p: Platform) => void;
  /** Default: the TD is torn down before the call. */
  live?: boolean;
  page: (c: Ctx) => bigint;
  setup?: (c: Ctx) => void;
  raxExtra?: bigint;
  want: Expected;
  out?: (c: Ctx) => { type: string; owner: bigint; level: bigint };
}

const ROWS: Row[] = [
  {
    name: "a TDCS page",
    page: ({ td }) => td.tdcx[0],
    want: { name: "TDX_SUCCESS" },
    out: ({ td }) => ({ type: "PT_TDCX", owner: td.tdr, level: 0n }),
  },
  {
    name: "the TDR once its pages are gone",
    page: ({ td }) => td.tdr,
    setup: ({ p, td }) => {
      for (const pa of td.tdcx) {
        expectStatus(p.seamcall("TDH.PHYMEM.PAGE.RECLAIM", { page_pa: pa }), {
          name: "TDX_SUCCESS",
        });
      }
    },
    want: { name: "TDX_SUCCESS" },
    out: () => ({ type: "PT_TDR", owner: 0n, level: 0n }),
  },
  {
    name: "a 2 MiB TD page",
    page: ({ p, td }) => {
      const base = p.allocRange(2n << 20n, 2n << 20n);
      p.module.state.pamt.set(base, { pageType: "PT_REG", owner: td.tdr, level: 1 });
      return base;
    },
    want: { name: "TDX_SUCCESS" },
    out: ({ td }) => ({ type: "PT_REG", owner: td.tdr, level: 1n }),
  },
  {
    name: "RAX reserved bits",
    page: ({ td }) => td.tdr,
    raxExtra: 1n << 24n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module shut down",
    page: ({ td }) => td.tdcx[0],
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
    page: ({ td }) => td.tdr + 0x10n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "HKID bits",
    page: ({ p, td }) => p.cpu.memory.withKeyId(td.tdr, 3),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "outside the TDMRs",
    page: () => 12n << 30n,
    want: { name: "TDX_OPERAND_ADDR_RANGE_ERROR", operand: "RCX" },
  },
  {
    name: "PAMT entry locked",
    page: ({ td }) => td.tdcx[0],
    setup: ({ p, td }) => void p.module.state.locks.hold(lockKey.page(td.tdcx[0]), "shared"),
    want: { name: "TDX_OPERAND_BUSY", operand: "RCX" },
  },
  {
    name: "a free page",
    page: ({ p }) => p.allocPage(),
    want: { name: "TDX_PAGE_METADATA_INCORRECT", operand: "RCX" },
  },
  {
    name: "a reserved page",
    page: ({ p }) => {
      const t = p.module.state.platform.tdmrs[0];
      return t.base + t.reserved[0].offset;
    },
    want: { name: "TDX_PAGE_METADATA_INCORRECT", operand: "RCX" },
  },
  {
    name: "inside a 2 MiB leaf, not at its start",
    page: ({ p, td }) => {
      const base = p.allocRange(2n << 20n, 2n << 20n);
      p.module.state.pamt.set(base, { pageType: "PT_REG", owner: td.tdr, level: 1 });
      return base + 0x3000n;
    },
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
    out: ({ td }) => ({ type: "PT_REG", owner: td.tdr, level: 1n }),
  },
  {
    name: "the TDR's PAMT entry locked",
    page: ({ td }) => td.tdcx[0],
    setup: ({ p, td }) => void p.module.state.locks.hold(lockKey.page(td.tdr), "exclusive"),
    want: { name: "TDX_OPERAND_BUSY", operand: "TDR" },
    out: ({ td }) => ({ type: "PT_TDCX", owner: td.tdr, level: 0n }),
  },
  {
    name: "a page of a live TD",
    live: true,
    page: ({ td }) => td.tdcx[0],
    want: { name: "TDX_LIFECYCLE_STATE_INCORRECT" },
    out: ({ td }) => ({ type: "PT_TDCX", owner: td.tdr, level: 0n }),
  },
  {
    name: "the TDR of a live TD",
    live: true,
    page: ({ td }) => td.tdr,
    want: { name: "TDX_LIFECYCLE_STATE_INCORRECT" },
    out: () => ({ type: "PT_TDR", owner: 0n, level: 0n }),
  },
  {
    name: "the TDR before its pages",
    page: ({ td }) => td.tdr,
    want: { name: "TDX_TD_ASSOCIATED_PAGES_EXIST" },
    out: () => ({ type: "PT_TDR", owner: 0n, level: 0n }),
  },
];

/** The dispatcher's refusals (RAX, shutdown, not ready) leave the registers as they were. */
function byLeaf(w: Expected): boolean {
  return w.operand !== "RAX" && w.name !== "TDX_SYS_SHUTDOWN" && w.name !== "TDX_SYS_NOT_READY";
}

for (const row of ROWS) {
  Deno.test(`TDH.PHYMEM.PAGE.RECLAIM: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    let td: CreatedTd = { tdr: 0n, hkid: 0, tdcx: [] };
    if (row.before) row.before(p);
    else {
      td = p.createTd();
      if (!row.live) teardownTd(p, td.tdr);
    }
    const c = { p, td };
    const page = row.page(c);
    row.setup?.(c);
    const before = p.module.state.pamt.leaf(page).entry;
    const r = p.seamcallRaw("TDH.PHYMEM.PAGE.RECLAIM", { page_pa: page }, {
      raxExtra: row.raxExtra,
    });
    expectStatus(r, row.want, row.name);
    if (row.out) {
      const o = row.out(c);
      assert.equal(r.out.page_type, p.spec.enumValue("PAGE_TYPE", o.type));
      assert.equal(r.out.owner, o.owner);
      assert.equal(r.out.page_size, o.level);
    } else if (byLeaf(row.want)) {
      assert.equal(r.out.page_type, 0n);
    }
    const after = p.module.state.pamt.leaf(page).entry;
    if (row.want.name === "TDX_SUCCESS") assert.equal(after.pageType, "PT_NDA");
    else assert.deepEqual(after, before);
  });
}

Deno.test("a torn-down TD's pages all go back to the host", () => {
  const p = new Platform();
  const td = p.createTd();
  const vcpu = p.createVcpu(td);
  expectStatus(p.seamcall("TDH.VP.FLUSH", { tdvpr_pa: vcpu }), { name: "TDX_SUCCESS" });
  teardownTd(p, td.tdr);
  const owned = p.module.state.pamt.ownedBy(td.tdr).filter((pa) => pa !== td.tdr);
  assert.ok(owned.length > td.tdcx.length);
  for (const pa of owned) {
    expectStatus(p.seamcall("TDH.PHYMEM.PAGE.RECLAIM", { page_pa: pa }), { name: "TDX_SUCCESS" });
  }
  expectStatus(p.seamcall("TDH.PHYMEM.PAGE.RECLAIM", { page_pa: td.tdr }), { name: "TDX_SUCCESS" });
  assert.equal(p.module.state.tds.has(td.tdr), false);
  assert.equal(p.module.state.vcpus.has(vcpu), false);
  // Flush the TDR's lines written with the global HKID before reusing it.
  const hkid = p.module.state.platform.globalHkid!;
  expectStatus(
    p.seamcall("TDH.PHYMEM.PAGE.WBINVD", {
      page_pa_with_hkid: p.cpu.memory.withKeyId(td.tdr, hkid),
    }),
    {
      name: "TDX_SUCCESS",
    },
  );
});
