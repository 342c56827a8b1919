import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { lockKey } from "../locks.ts";

interface Row {
  name: string;
  before?: (p: Platform) => void;
  hv?: bigint;
  raxExtra?: bigint;
  want: Expected;
}

const ROWS: Row[] = [
  { name: "success", want: { name: "TDX_SUCCESS" } },
  {
    name: "RAX reserved bits",
    raxExtra: 1n << 33n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "already shut down",
    before: (p) => {
      p.readyPlatform();
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS");
    },
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  { name: "module not ready", before: (p) => p.initLps(), want: { name: "TDX_SYS_NOT_READY" } },
  {
    name: "handoff version above the module's",
    hv: 1n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "downgrade forbidden",
    before: (p) => {
      p.readyPlatform();
      // A build that may hand off to versions 0..2 but forbids going below its own (2).
      Object.assign(p.module.state.profile.sigstruct, { moduleHv: 2, noDowngrade: true });
    },
    hv: 1n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "below the minimum handoff version",
    before: (p) => {
      p.readyPlatform();
      Object.assign(p.module.state.profile.sigstruct, { moduleHv: 3, minUpdateHv: 2 });
    },
    hv: 1n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "global lock held",
    before: (p) => {
      p.readyPlatform();
      p.module.state.locks.hold(lockKey.global(), "shared");
    },
    want: { name: "TDX_SYS_BUSY" },
  },
  {
    name: "another LP is inside SEAM",
    before: (p) => {
      p.readyPlatform();
      p.cpu.lps[2].mode = "seam-non-root";
    },
    want: { name: "TDX_SYS_BUSY" },
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.SYS.SHUTDOWN: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    (row.before ?? ((q: Platform) => q.readyPlatform()))(p);
    const wasReady = p.module.state.platform.sysState === "SYS_READY";
    const r = p.seamcallRaw("TDH.SYS.SHUTDOWN", { handoff_version: row.hv ?? 0n }, {
      raxExtra: row.raxExtra,
    });
    expectStatus(r, row.want, row.name);
    const st = p.module.state.platform.sysState;
    if (row.want.name === "TDX_SUCCESS") {
      assert.equal(st, "SYS_SHUTDOWN");
      assert.deepEqual(
        { valid: p.cpu.seamHandoff?.valid, hv: p.cpu.seamHandoff?.hv },
        { valid: true, hv: 0 },
      );
    } else if (wasReady) {
      assert.equal(st, "SYS_READY");
      assert.equal(p.cpu.seamHandoff, undefined);
    }
  });
}

Deno.test("after TDH.SYS.SHUTDOWN only TDH.SYS.LP.SHUTDOWN is accepted", () => {
  const p = new Platform();
  p.readyPlatform();
  expectStatus(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }), { name: "TDX_SUCCESS" });
  for (
    const leaf of [
      "TDH.SYS.RD",
      "TDH.SYS.INFO",
      "TDH.SYS.CONFIG",
      "TDH.MNG.CREATE",
      "TDH.PHYMEM.CACHE.WB",
    ]
  ) {
    expectStatus(p.seamcall(leaf), { name: "TDX_SYS_SHUTDOWN" }, leaf);
  }
  expectStatus(p.seamcall("TDH.SYS.LP.SHUTDOWN", {}, { lp: 1 }), { name: "TDX_SUCCESS" });
});
