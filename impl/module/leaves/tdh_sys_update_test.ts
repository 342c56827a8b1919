import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { lockKey } from "../locks.ts";
import { defaultModuleProfile, type ModuleProfile } from "../module_profile.ts";
import { nativeSampledCpuid, sampledCpuid } from "../platform_sample.ts";
import {
  initExtensions,
  initQuoting,
  quoteAddOn,
  readGlobal,
  readyWithQuoting,
} from "../testing/extension_steps.ts";

/** The old module is shut down; a new one is loaded (with `profile`) and its LPs initialised. */
function updateTo(p: Platform, profile?: ModuleProfile, lps = true): void {
  expectStatus(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }), { name: "TDX_SUCCESS" });
  p.loadNewModule(profile);
  if (lps) p.initLps();
}

interface Row {
  name: string;
  /** Default: ready platform, shut down, new module with every LP initialised. */
  before?: (p: Platform) => void;
  inputs?: (p: Platform) => Record<string, bigint>;
  version?: number;
  raxExtra?: bigint;
  want: Expected;
}

const noExtensions = (): ModuleProfile => {
  const prof = defaultModuleProfile();
  prof.features0 = prof.features0.filter((f) => f !== "EXT" && f !== "QUOTE");
  return prof;
};

const ROWS: Row[] = [
  { name: "success", want: { name: "TDX_SUCCESS" } },
  {
    name: "success, version 1 with the same add-on features",
    before: (p) => {
      readyWithQuoting(p);
      updateTo(p);
    },
    version: 1,
    inputs: (p) => ({ addon_features0: quoteAddOn(p) }),
    want: { name: "TDX_SUCCESS" },
  },
  {
    name: "RAX reserved bits",
    raxExtra: 1n << 24n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  { name: "RAX version 2", version: 2, want: { name: "TDX_OPERAND_INVALID", operand: "RAX" } },
  {
    name: "version 1 on a module without extensions",
    before: (p) => {
      p.readyPlatform();
      updateTo(p, noExtensions());
    },
    version: 1,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "the old module, shut down",
    before: (p) => {
      p.readyPlatform();
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS");
    },
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  {
    name: "global lock held",
    before: (p) => {
      p.readyPlatform();
      updateTo(p);
      p.module.state.locks.hold(lockKey.global(), "shared");
    },
    want: { name: "TDX_SYS_BUSY" },
  },
  {
    name: "new module before TDH.SYS.INIT",
    before: (p) => {
      p.readyPlatform();
      updateTo(p, undefined, false);
    },
    want: { name: "TDX_SYS_STATE_INCORRECT" },
  },
  {
    name: "an LP without TDH.SYS.LP.INIT",
    before: (p) => {
      p.readyPlatform();
      updateTo(p, undefined, false);
      p.seamcall("TDH.SYS.INIT");
      for (const lp of [0, 1, 2]) p.seamcall("TDH.SYS.LP.INIT", {}, { lp });
    },
    want: { name: "TDX_SYS_STATE_INCORRECT" },
  },
  {
    name: "a module that was configured instead",
    before: (p) => {
      p.initLps();
      p.configure();
    },
    want: { name: "TDX_SYS_STATE_INCORRECT" },
  },
  {
    name: "no handoff data",
    before: (p) => p.initLps(),
    want: { name: "TDX_SYS_INVALID_HANDOFF" },
  },
  {
    name: "handoff data already taken over",
    before: (p) => {
      p.readyPlatform();
      updateTo(p);
      assert.equal(p.seamcall("TDH.SYS.UPDATE").name, "TDX_SUCCESS");
      p.loadNewModule();
      p.initLps();
    },
    want: { name: "TDX_SYS_INVALID_HANDOFF" },
  },
  {
    name: "handoff version above the new module's",
    before: (p) => {
      p.readyPlatform();
      updateTo(p);
      p.cpu.seamHandoff!.hv = 1;
    },
    want: { name: "TDX_SYS_INVALID_HANDOFF" },
  },
  {
    name: "new module's maximum quote size is larger",
    before: (p) => {
      readyWithQuoting(p);
      const prof = defaultModuleProfile();
      prof.extensions.maxQuoteSize *= 2;
      updateTo(p, prof);
    },
    want: { name: "TDX_SYS_INVALID_HANDOFF" },
  },
  {
    name: "version 1 with different add-on features",
    before: (p) => {
      p.readyPlatform();
      updateTo(p);
    },
    version: 1,
    inputs: (p) => ({ addon_features0: quoteAddOn(p) }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R9" },
  },
  {
    name: "version 1 with a feature the new module cannot add",
    before: (p) => {
      p.readyPlatform();
      updateTo(p);
    },
    version: 1,
    inputs: (p) => ({ addon_features0: p.cpu.msrs.encode("TDX_FEATURES0", { TD_MIGRATION: 1n }) }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R9" },
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.SYS.UPDATE: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    (row.before ?? ((q: Platform) => {
      q.readyPlatform();
      updateTo(q);
    }))(p);
    const r = p.seamcallRaw("TDH.SYS.UPDATE", row.inputs?.(p) ?? {}, {
      version: row.version,
      raxExtra: row.raxExtra,
    });
    expectStatus(r, row.want, row.name);
    if (row.want.name === "TDX_SUCCESS") {
      assert.equal(p.module.state.platform.sysState, "SYS_READY");
      assert.equal(p.cpu.seamHandoff?.valid, false);
    } else if (p.cpu.seamHandoff?.valid) {
      assert.notEqual(p.module.state.platform.sysState, "SYS_READY");
    }
  });
}

Deno.test("a TD-preserving update keeps TDMRs, the KOT, TDs and their pages", () => {
  const p = new Platform();
  const td = p.createTd();
  const oldState = p.module.state;
  updateTo(p);
  expectStatus(p.seamcall("TDH.SYS.UPDATE"), { name: "TDX_SUCCESS" });
  const s = p.module.state;
  assert.notEqual(s, oldState);
  assert.deepEqual(s.platform.tdmrs, oldState.platform.tdmrs);
  assert.equal(s.platform.globalHkid, oldState.platform.globalHkid);
  assert.equal(s.kot.get(td.hkid), oldState.kot.get(td.hkid));
  assert.equal(s.tds.get(td.tdr)?.lifecycle, "TD_KEYS_CONFIGURED");
  assert.equal(s.pamt.get(td.tdr).pageType, "PT_TDR");
  // The new module serves the TD: its metadata is readable through the new module.
  const md = p.seamcall("TDH.PHYMEM.PAGE.RDMD", { page_pa: td.tdcx[0] });
  assert.equal(md.out.page_type, p.spec.enumValue("PAGE_TYPE", "PT_TDCX"));
  assert.equal(md.out.owner, td.tdr);
});

Deno.test("after an update the extensions keep their pool and are set up again", () => {
  const p = new Platform();
  readyWithQuoting(p);
  const pool = p.module.state.platform.extensions.memory.length;
  updateTo(p);
  expectStatus(p.seamcall("TDH.SYS.UPDATE", { addon_features0: quoteAddOn(p) }, { version: 1 }), {
    name: "TDX_SUCCESS",
  });
  const ext = p.module.state.platform.extensions;
  assert.equal(ext.memory.length, pool);
  assert.equal(ext.initialized, false);
  assert.equal(ext.quoteInitialized, false);
  assert.equal(readGlobal(p, "EXT_REQUIRED"), 1n);
  // Linux requires no new pool pages after an update.
  assert.equal(readGlobal(p, "MEMORY_POOL_REQUIRED_PAGES"), 0n);
  // Quoting is unavailable until TDH.EXT.INIT and TDH.QUOTE.INIT run again.
  expectStatus(p.seamcall("TDH.QUOTE.INIT"), { name: "TDX_SYS_STATE_INCORRECT" });
  initExtensions(p);
  initQuoting(p);
  assert.equal(
    readGlobal(p, "MAX_QUOTE_SIZE"),
    BigInt(p.module.state.profile.extensions.maxQuoteSize),
  );
});

Deno.test("version 0 of TDH.SYS.UPDATE keeps the previous add-on features", () => {
  const p = new Platform();
  readyWithQuoting(p);
  updateTo(p);
  expectStatus(p.seamcall("TDH.SYS.UPDATE"), { name: "TDX_SUCCESS" });
  assert.equal(p.module.state.platform.addOnFeatures, quoteAddOn(p));
});

Deno.test("an update to a module with a smaller maximum quote size is accepted", () => {
  const p = new Platform();
  readyWithQuoting(p);
  const prof = defaultModuleProfile();
  prof.extensions.maxQuoteSize /= 2;
  updateTo(p, prof);
  expectStatus(p.seamcall("TDH.SYS.UPDATE"), { name: "TDX_SUCCESS" });
});

Deno.test("TDH.SYS.UPDATE fixes the new module's TD CPUID values as TDH.SYS.CONFIG does", () => {
  const p = new Platform();
  p.readyPlatform();
  updateTo(p);
  const s = p.module.state.platform.sampled!;
  const version = Number(p.spec.enumValue("CPUID_LEAF", "VERSION_INFO"));
  const native = nativeSampledCpuid(s, version, 0)!;
  // The CPU has no hypervisor bit (ECX[31], FIXED1) but has PSN (EDX[17], FIXED0).
  assert.equal(sampledCpuid(s, version, 0)!.ecx >>> 31, 0);
  assert.equal((sampledCpuid(s, version, 0)!.edx >>> 17) & 1, 1);
  expectStatus(p.seamcall("TDH.SYS.UPDATE"), { name: "TDX_SUCCESS" });
  assert.equal(sampledCpuid(s, version, 0)!.ecx >>> 31, 1);
  assert.equal((sampledCpuid(s, version, 0)!.edx >>> 17) & 1, 0);
  assert.deepEqual(nativeSampledCpuid(s, version, 0), native);
});
