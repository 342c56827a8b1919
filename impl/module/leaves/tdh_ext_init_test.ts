import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { addExtensionMemory, quoteAddOn, readGlobal } from "../testing/extension_steps.ts";

interface Row {
  name: string;
  before?: (p: Platform) => void;
  raxExtra?: bigint;
  version?: number;
  want: Expected;
  initialized?: boolean;
}

const withPool = (p: Platform) => {
  p.readyPlatform({ addOnFeatures: quoteAddOn(p) });
  addExtensionMemory(p);
};

const ROWS: Row[] = [
  { name: "pool complete", want: { name: "TDX_SUCCESS" }, initialized: true },
  {
    name: "no add-on needs the extensions",
    before: (p) => p.readyPlatform(),
    want: { name: "TDX_SUCCESS" },
    initialized: false,
  },
  {
    name: "interrupt pending",
    before: (p) => {
      withPool(p);
      p.cpu.pendHostInterrupt(0, true);
    },
    want: { name: "TDX_INTERRUPTED_RESUMABLE" },
    initialized: false,
  },
  {
    name: "RAX reserved bits",
    raxExtra: 1n << 40n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  { name: "RAX version 1", version: 1, want: { name: "TDX_OPERAND_INVALID", operand: "RAX" } },
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
      withPool(p);
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS");
    },
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  { name: "module not ready", before: (p) => p.initLps(), want: { name: "TDX_SYS_NOT_READY" } },
  {
    name: "pool incomplete",
    before: (p) => p.readyPlatform({ addOnFeatures: quoteAddOn(p) }),
    want: { name: "TDX_SYS_STATE_INCORRECT" },
    initialized: false,
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.EXT.INIT: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    (row.before ?? withPool)(p);
    const r = p.seamcallRaw("TDH.EXT.INIT", {}, { raxExtra: row.raxExtra, version: row.version });
    expectStatus(r, row.want, row.name);
    if (row.initialized !== undefined) {
      assert.equal(p.module.state.platform.extensions.initialized, row.initialized);
    }
  });
}

Deno.test("TDH.EXT.INIT resumes until the whole pool is initialised", () => {
  const p = new Platform();
  withPool(p);
  p.cpu.pendHostInterrupt(0, true);
  let calls = 0;
  let r;
  do {
    r = p.seamcall("TDH.EXT.INIT");
    calls++;
    // The interrupt is served between calls on the last one.
    if (calls === 3) p.cpu.pendHostInterrupt(0, false);
  } while (r.name === "TDX_INTERRUPTED_RESUMABLE");
  expectStatus(r, { name: "TDX_SUCCESS" });
  assert.equal(calls, 4);
  assert.equal(readGlobal(p, "EXT_REQUIRED"), 1n);
  assert.ok(p.module.state.platform.extensions.initialized);
});
