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
  /** Default: a TD whose HKID is flushed (after TDH.MNG.VPFLUSHDONE). */
  before?: (p: Platform) => CreatedTd | void;
  setup?: (c: Ctx) => void;
  command?: bigint;
  lp?: number;
  raxExtra?: bigint;
  want: Expected;
}

function flushedTd(p: Platform): CreatedTd {
  const td = p.createTd();
  expectStatus(p.seamcall("TDH.MNG.VPFLUSHDONE", { tdr_pa: td.tdr }), { name: "TDX_SUCCESS" });
  return td;
}

const ROWS: Row[] = [
  { name: "start", want: { name: "TDX_SUCCESS" } },
  {
    name: "interrupt pending",
    setup: ({ p }) => p.cpu.pendHostInterrupt(0, true),
    want: { name: "TDX_INTERRUPTED_RESUMABLE" },
  },
  {
    name: "RAX reserved bits",
    raxExtra: 1n << 24n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module shut down",
    setup: ({ p }) =>
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS"),
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  { name: "module not ready", before: (p) => p.initLps(), want: { name: "TDX_SYS_NOT_READY" } },
  { name: "command 2", command: 2n, want: { name: "TDX_OPERAND_INVALID", operand: "RCX" } },
  {
    name: "a write-back running on the package",
    setup: ({ p }) => void p.module.state.locks.hold(lockKey.wbcache(0), "exclusive"),
    want: { name: "TDX_OPERAND_BUSY", operand: "WBCACHE" },
  },
  {
    name: "the KOT locked exclusively",
    setup: ({ p }) => void p.module.state.locks.hold(lockKey.kot(), "exclusive"),
    want: { name: "TDX_OPERAND_BUSY", operand: "KOT" },
  },
  {
    name: "no HKID flushed",
    before: (p) => p.readyPlatform(),
    want: { name: "TDX_NO_HKID_READY_TO_WBCACHE" },
  },
  {
    name: "resume without an interrupted cycle",
    command: 1n,
    want: { name: "TDX_WBCACHE_RESUME_ERROR" },
  },
  {
    name: "resume on another package",
    setup: ({ p }) => {
      p.cpu.pendHostInterrupt(0, true);
      expectStatus(p.seamcall("TDH.PHYMEM.CACHE.WB", { command: 0 }), {
        name: "TDX_INTERRUPTED_RESUMABLE",
      });
    },
    command: 1n,
    lp: 2,
    want: { name: "TDX_WBCACHE_RESUME_ERROR" },
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.PHYMEM.CACHE.WB: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    const td = (row.before ?? flushedTd)(p) ?? { tdr: 0n, hkid: 0, tdcx: [] };
    row.setup?.({ p, td });
    const r = p.seamcallRaw("TDH.PHYMEM.CACHE.WB", { command: row.command ?? 0n }, {
      lp: row.lp,
      raxExtra: row.raxExtra,
    });
    expectStatus(r, row.want, row.name);
    const pending = p.module.state.kotWbinvdPending.get(td.hkid);
    if (row.want.name === "TDX_SUCCESS") assert.deepEqual([...pending!], [1]);
    else if (pending && !row.before) assert.ok(pending.has(0));
  });
}

Deno.test("TDH.PHYMEM.CACHE.WB resumes where it stopped and frees the HKID's package bit", () => {
  const p = new Platform();
  const td = flushedTd(p);
  const blocks = p.cpu.platform.cacheSubBlocks;
  p.cpu.pendHostInterrupt(2, true);
  let r = p.seamcall("TDH.PHYMEM.CACHE.WB", { command: 0 }, { lp: 2 });
  let calls = 1;
  while (r.name === "TDX_INTERRUPTED_RESUMABLE") {
    assert.equal(p.module.state.platform.cacheWb.get(1)?.nextBlock, calls);
    r = p.seamcall("TDH.PHYMEM.CACHE.WB", { command: 1 }, { lp: 2 });
    calls++;
  }
  expectStatus(r, { name: "TDX_SUCCESS" });
  // One sub-block per call while the interrupt stays pending (none is checked after the last).
  assert.equal(calls, blocks);
  assert.deepEqual([...p.module.state.kotWbinvdPending.get(td.hkid)!], [0]);
  // The other package still has to write back: the HKID cannot be freed yet.
  expectStatus(p.seamcall("TDH.MNG.KEY.FREEID", { tdr_pa: td.tdr }), {
    name: "TDX_WBCACHE_NOT_COMPLETE",
  });
  p.cpu.pendHostInterrupt(2, false);
  expectStatus(p.seamcall("TDH.PHYMEM.CACHE.WB", { command: 0 }, { lp: 0 }), {
    name: "TDX_SUCCESS",
  });
  expectStatus(p.seamcall("TDH.MNG.KEY.FREEID", { tdr_pa: td.tdr }), { name: "TDX_SUCCESS" });
});

Deno.test("a start command discards an interrupted cycle", () => {
  const p = new Platform();
  flushedTd(p);
  p.cpu.pendHostInterrupt(0, true);
  expectStatus(p.seamcall("TDH.PHYMEM.CACHE.WB", { command: 0 }), {
    name: "TDX_INTERRUPTED_RESUMABLE",
  });
  expectStatus(p.seamcall("TDH.PHYMEM.CACHE.WB", { command: 0 }), {
    name: "TDX_INTERRUPTED_RESUMABLE",
  });
  assert.equal(p.module.state.platform.cacheWb.get(0)?.nextBlock, 1);
});
