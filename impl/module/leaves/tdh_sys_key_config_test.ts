import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { lockKey } from "../locks.ts";

interface Row {
  name: string;
  /** Runs after TDH.SYS.CONFIG (unless `before` replaces the bring-up). */
  setup?: (p: Platform) => void;
  before?: (p: Platform) => void;
  lp?: number;
  raxExtra?: bigint;
  want: Expected;
}

const ROWS: Row[] = [
  { name: "success", want: { name: "TDX_SUCCESS" } },
  {
    name: "RAX reserved bits",
    raxExtra: 1n << 30n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module shut down",
    before: (p) => {
      p.readyPlatform();
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS");
    },
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  {
    name: "global lock held",
    setup: (p) => void p.module.state.locks.hold(lockKey.global(), "shared"),
    want: { name: "TDX_SYS_BUSY" },
  },
  {
    name: "before TDH.SYS.CONFIG",
    before: (p) => p.initLps(),
    want: { name: "TDX_SYS_KEY_CONFIG_NOT_PENDING" },
  },
  {
    name: "module already ready",
    before: (p) => p.readyPlatform(),
    want: { name: "TDX_SYS_KEY_CONFIG_NOT_PENDING" },
  },
  {
    name: "package already configured from another LP",
    setup: (p) => assert.equal(p.seamcall("TDH.SYS.KEY.CONFIG", {}, { lp: 1 }).name, "TDX_SUCCESS"),
    want: { name: "TDX_KEY_CONFIGURED" },
  },
  {
    name: "PCONFIG finds the key table busy",
    setup: (p) => p.cpu.setKeyTableBusy(0, true),
    want: { name: "TDX_OPERAND_BUSY", operand: "KET" },
  },
  {
    name: "PCONFIG has no entropy for the key",
    setup: (p) => p.cpu.blockRng(true),
    want: { name: "TDX_KEY_GENERATION_FAILED" },
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.SYS.KEY.CONFIG: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    if (row.before) row.before(p);
    else {
      p.initLps();
      p.configure();
    }
    row.setup?.(p);
    const r = p.seamcallRaw("TDH.SYS.KEY.CONFIG", {}, { lp: row.lp ?? 0, raxExtra: row.raxExtra });
    expectStatus(r, row.want, row.name);
    const st = p.module.state.platform;
    if (row.want.name === "TDX_SUCCESS") {
      assert.ok(st.packagesKeyConfigured.has(0));
      assert.ok(p.cpu.keyProgrammed(0, st.globalHkid!));
      assert.equal(st.sysState, "SYSCONFIG_DONE");
    }
    if (["TDX_OPERAND_BUSY", "TDX_KEY_GENERATION_FAILED"].includes(row.want.name)) {
      // The package stays unconfigured: the host retries.
      assert.ok(!st.packagesKeyConfigured.has(0));
      p.cpu.setKeyTableBusy(0, false);
      p.cpu.blockRng(false);
      expectStatus(p.seamcall("TDH.SYS.KEY.CONFIG"), { name: "TDX_SUCCESS" });
    }
  });
}

Deno.test("TDH.SYS.KEY.CONFIG on the last package makes the module SYS_READY", () => {
  const p = new Platform();
  p.initLps();
  p.configure();
  expectStatus(p.seamcall("TDH.SYS.KEY.CONFIG", {}, { lp: 0 }), { name: "TDX_SUCCESS" });
  assert.equal(p.module.state.platform.sysState, "SYSCONFIG_DONE");
  // Until then, a leaf that needs a ready module is refused by the dispatcher.
  expectStatus(p.seamcall("TDH.SYS.TDMR.INIT", { tdmr_base: 0n }), { name: "TDX_SYS_NOT_READY" });
  expectStatus(p.seamcall("TDH.SYS.KEY.CONFIG", {}, { lp: 3 }), { name: "TDX_SUCCESS" });
  assert.equal(p.module.state.platform.sysState, "SYS_READY");
  assert.ok(p.cpu.keyProgrammed(1, p.module.state.platform.globalHkid!));
});
