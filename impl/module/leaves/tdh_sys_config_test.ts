import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import type { PlannedTdmr } from "../testing/platform_layout.ts";
import { lockKey } from "../locks.ts";
import { multiInfo, nativeSampledCpuid, sampledCpuid } from "../platform_sample.ts";
import { nativeTscHz } from "../host_priority.ts";

const GiB = 1n << 30n;
const MiB = 1n << 20n;

interface Row {
  name: string;
  /**
   * Runs with the platform after TDH.SYS.INIT and LP.INIT on every LP (unless `before`);
   * may return the TDMR_INFO pointer array to pass.
   */
  setup?: (p: Platform) => bigint | void;
  /** Replaces the whole bring-up before the call. */
  before?: (p: Platform) => void;
  /** Edits a copy of the fixture's TDMR plan. */
  tdmrs?: (t: PlannedTdmr[]) => void;
  inputs?: (p: Platform, array: bigint) => Record<string, bigint | number>;
  version?: number;
  raxExtra?: bigint;
  want: Expected;
}

function clonePlan(plan: PlannedTdmr[]): PlannedTdmr[] {
  return plan.map((t) => ({
    ...t,
    pamt1g: { ...t.pamt1g },
    pamt2m: { ...t.pamt2m },
    pamt4k: { ...t.pamt4k },
    reserved: t.reserved.map((r) => ({ ...r })),
  }));
}

const quoteBit = (p: Platform) => p.cpu.msrs.encode("TDX_FEATURES0", { QUOTE: 1n });

const ROWS: Row[] = [
  { name: "success", want: { name: "TDX_SUCCESS" } },
  {
    name: "success, version 1 with the Quoting extension",
    version: 1,
    inputs: (p, a) => ({ ...base(p, a), addon_features0: quoteBit(p) }),
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
    setup: (p) => {
      const prof = p.module.state.profile;
      prof.features0 = prof.features0.filter((f) => f !== "EXT" && f !== "QUOTE");
    },
    version: 1,
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
  { name: "before TDH.SYS.INIT", before: () => {}, want: { name: "TDX_SYS_CONFIG_NOT_PENDING" } },
  {
    name: "an LP without TDH.SYS.LP.INIT",
    before: (p) => {
      assert.equal(p.seamcall("TDH.SYS.INIT").name, "TDX_SUCCESS");
      for (const lp of [0, 1, 2]) p.seamcall("TDH.SYS.LP.INIT", {}, { lp });
    },
    want: { name: "TDX_SYS_CONFIG_NOT_PENDING" },
  },
  {
    name: "already configured",
    setup: (p) => p.configure(),
    want: { name: "TDX_SYS_CONFIG_NOT_PENDING" },
  },
  {
    name: "array not 512-byte aligned",
    inputs: (p, a) => ({ ...base(p, a), tdmr_info_pa_array: a + 0x100n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "array above MAX_PA",
    inputs: (p, a) => ({ ...base(p, a), tdmr_info_pa_array: a | (1n << 53n) }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "array in SEAMRR",
    inputs: (p, a) => ({ ...base(p, a), tdmr_info_pa_array: p.cpu.platform.seamrr.base }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "array with a private HKID",
    inputs: (p, a) => ({ ...base(p, a), tdmr_info_pa_array: p.cpu.memory.withKeyId(a, 40) }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "second TDMR_INFO pointer not aligned",
    setup: (p) => {
      const array = p.writeTdmrInfo(clonePlan(p.tdmrPlan()));
      const view = new DataView(p.cpu.memory.read(array, 16).buffer);
      p.cpu.memory.write(array + 8n, le64(view.getBigUint64(8, true) + 0x40n));
      return array;
    },
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "no TDMR entries",
    inputs: (p, a) => ({ ...base(p, a), num_tdmr_entries: 0 }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RDX" },
  },
  {
    name: "65 TDMR entries",
    inputs: (p, a) => ({ ...base(p, a), num_tdmr_entries: 65 }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RDX" },
  },
  {
    name: "R8 reserved bits",
    inputs: (p, a) => ({ ...base(p, a), global_private_hkid: 40n | (1n << 16n) }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R8" },
  },
  {
    name: "shared HKID as the global HKID",
    inputs: (p, a) => ({ ...base(p, a), global_private_hkid: 1 }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R8" },
  },
  {
    name: "HKID beyond the private range",
    inputs: (p, a) => ({ ...base(p, a), global_private_hkid: 64 }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R8" },
  },
  {
    name: "add-on feature the module does not offer",
    version: 1,
    inputs: (p, a) => ({
      ...base(p, a),
      addon_features0: p.cpu.msrs.encode("TDX_FEATURES0", { TD_MIGRATION: 1n }),
    }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R9" },
  },
  {
    name: "QUOTE add-on on a module without the Quoting extension",
    setup: (p) => {
      const prof = p.module.state.profile;
      prof.features0 = prof.features0.filter((f) => f !== "QUOTE");
    },
    version: 1,
    inputs: (p, a) => ({ ...base(p, a), addon_features0: quoteBit(p) }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R9" },
  },
  {
    name: "TDMR base not 1 GiB aligned",
    tdmrs: (t) => void (t[1].base += 2n * MiB),
    want: { name: "TDX_INVALID_TDMR", detail: multiInfo(1) },
  },
  {
    name: "TDMR size 0",
    tdmrs: (t) => void (t[1].size = 0n),
    want: { name: "TDX_INVALID_TDMR", detail: multiInfo(1) },
  },
  {
    name: "TDMR end beyond the HKID bits",
    tdmrs: (t) => void (t[1].size = (1n << 46n) - t[1].base + GiB),
    want: { name: "TDX_INVALID_TDMR", detail: multiInfo(1) },
  },
  {
    name: "TDMR base plus size overflows",
    tdmrs: (t) => void (t[1].size = (1n << 64n) - GiB),
    want: { name: "TDX_INVALID_TDMR", detail: multiInfo(1) },
  },
  {
    name: "TDMRs not in ascending order",
    tdmrs: (t) => t.reverse(),
    want: { name: "TDX_NON_ORDERED_TDMR", detail: multiInfo(1) },
  },
  {
    name: "TDMRs overlap",
    tdmrs: (t) => void (t[1].base = GiB),
    want: { name: "TDX_NON_ORDERED_TDMR", detail: multiInfo(1) },
  },
  {
    name: "reserved areas out of order",
    tdmrs: (t) => {
      const b = t[0].base;
      t[0].reserved = [{ base: b + 128n * MiB, size: 64n * MiB }, { base: b, size: 64n * MiB }];
    },
    want: { name: "TDX_NON_ORDERED_RESERVED_IN_TDMR", detail: multiInfo(0, 1) },
  },
  {
    name: "reserved areas overlap",
    tdmrs: (t) => {
      const b = t[0].base;
      t[0].reserved = [{ base: b, size: 96n * MiB }, { base: b + 64n * MiB, size: 64n * MiB }];
    },
    want: { name: "TDX_NON_ORDERED_RESERVED_IN_TDMR", detail: multiInfo(0, 1) },
  },
  {
    name: "reserved area after a null one",
    tdmrs: (t) => void (t[0].reserved = [{ base: t[0].base, size: 0n }, t[0].reserved[0]]),
    want: { name: "TDX_NON_ORDERED_RESERVED_IN_TDMR", detail: multiInfo(0, 0) },
  },
  {
    name: "reserved area offset not 4 KiB aligned",
    tdmrs: (t) => void (t[1].reserved = [{ base: t[1].base + 0x800n, size: 4096n }]),
    want: { name: "TDX_INVALID_RESERVED_IN_TDMR", detail: multiInfo(1, 0) },
  },
  {
    name: "reserved area beyond its TDMR",
    tdmrs: (t) => void (t[1].reserved = [{ base: t[1].base + t[1].size - 4096n, size: 8192n }]),
    want: { name: "TDX_INVALID_RESERVED_IN_TDMR", detail: multiInfo(1, 0) },
  },
  {
    name: "PAMT_4K too small",
    tdmrs: (t) => void (t[0].pamt4k.size -= 4096n),
    want: { name: "TDX_INVALID_PAMT", detail: multiInfo(0, 0) },
  },
  {
    name: "PAMT_1G not 4 KiB aligned",
    tdmrs: (t) => void (t[1].pamt1g.base += 16n),
    want: { name: "TDX_INVALID_PAMT", detail: multiInfo(1, 2) },
  },
  {
    name: "PAMT_2M with HKID bits",
    tdmrs: (t) => void (t[0].pamt2m.base |= 1n << 47n),
    want: { name: "TDX_INVALID_PAMT", detail: multiInfo(0, 1) },
  },
  {
    name: "PAMT_2M over PAMT_4K of the same TDMR",
    tdmrs: (t) => void (t[0].pamt2m.base = t[0].pamt4k.base),
    want: { name: "TDX_PAMT_OVERLAP", detail: multiInfo(0, 0, 0) },
  },
  {
    name: "PAMTs of two TDMRs overlap",
    tdmrs: (t) => void (t[1].pamt4k.base = t[0].pamt4k.base),
    want: { name: "TDX_PAMT_OVERLAP", detail: multiInfo(1, 0, 0) },
  },
  {
    name: "PAMT in usable memory of a TDMR",
    tdmrs: (t) => void (t[1].pamt1g.base = t[1].base),
    want: { name: "TDX_PAMT_OVERLAP", detail: multiInfo(1, 2, 1) },
  },
  {
    name: "PAMT in a reserved area that is not convertible",
    tdmrs: (t) => void (t[1].pamt1g.base = 2n * GiB - 16n * MiB),
    want: { name: "TDX_PAMT_OUTSIDE_CMRS", detail: multiInfo(1, 2) },
  },
  {
    name: "TDMR covers memory that is not convertible",
    tdmrs: (t) => {
      // Keep the PAMT block reserved but expose the hole above the first CMR.
      const block = t[0].reserved[0];
      t[0].reserved = [{ base: block.base, size: 0x7C00_0000n - block.base }];
    },
    want: { name: "TDX_TDMR_OUTSIDE_CMRS", detail: multiInfo(0) },
  },
];

function le64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

function base(p: Platform, array: bigint): Record<string, bigint | number> {
  return {
    tdmr_info_pa_array: array,
    num_tdmr_entries: p.tdmrPlan().length,
    global_private_hkid: p.cpu.platform.sharedKeyIds + 1,
  };
}

for (const row of ROWS) {
  Deno.test(`TDH.SYS.CONFIG: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    if (row.before) row.before(p);
    else p.initLps();
    const given = row.setup?.(p);
    const plan = clonePlan(p.tdmrPlan());
    row.tdmrs?.(plan);
    const array = given ?? p.writeTdmrInfo(plan);
    const inputs = row.inputs?.(p, array) ?? base(p, array);
    const r = p.seamcallRaw("TDH.SYS.CONFIG", inputs, {
      version: row.version,
      raxExtra: row.raxExtra,
    });
    expectStatus(r, row.want, row.name);
    const st = p.module.state.platform;
    if (row.want.name === "TDX_SUCCESS") {
      assert.equal(st.sysState, "SYSCONFIG_DONE");
      assert.equal(st.tdmrs.length, plan.length);
      assert.equal(st.globalHkid, p.cpu.platform.sharedKeyIds + 1);
      assert.equal(p.module.state.kot.get(st.globalHkid!), "HKID_RESERVED");
      assert.equal(st.addOnFeatures, row.version === 1 ? quoteBit(p) : 0n);
    } else if (
      row.name.startsWith("TDMR") || row.name.startsWith("PAMT") || row.name.startsWith("reserved")
    ) {
      // The HKID is reserved before the TDMRs are looked at; nothing else is recorded.
      assert.equal(st.sysState, "SYSINIT_DONE");
      assert.equal(st.tdmrs.length, 0);
      assert.equal(p.module.state.kot.get(p.cpu.platform.sharedKeyIds + 1), "HKID_RESERVED");
    }
  });
}

Deno.test("TDH.SYS.CONFIG: one TDMR of the plan is enough", () => {
  const p = new Platform();
  p.initLps();
  const plan = clonePlan(p.tdmrPlan()).slice(0, 1);
  const r = p.seamcall("TDH.SYS.CONFIG", {
    tdmr_info_pa_array: p.writeTdmrInfo(plan),
    num_tdmr_entries: 1,
    global_private_hkid: 40,
  });
  expectStatus(r, { name: "TDX_SUCCESS" });
  assert.equal(p.module.state.platform.tdmrs[0].reserved.length, plan[0].reserved.length);
});

Deno.test("TDH.SYS.CONFIG fixes the TD CPUID values; the raw sample and TSC frequency stay", () => {
  const p = new Platform();
  const version = Number(p.spec.enumValue("CPUID_LEAF", "VERSION_INFO"));
  // LP 0's APIC ID is 0; give every LP one in CPUID(1).EBX[31:24] so there is one to clear.
  p.cpu.cpuid.patch(version, "*", { ebx: 0x0700_0800 });
  p.initLps();
  const s = p.module.state.platform.sampled!;
  const hz = nativeTscHz(p.spec, p.cpu, p.module.state);
  const raw = sampledCpuid(s, version, 0)!;
  assert.equal(raw.ebx, 0x0700_0800);
  assert.equal(raw.ecx >>> 31, 0);
  p.configure();
  const fixed = sampledCpuid(s, version, 0)!;
  assert.equal(fixed.ebx, 0x0800);
  assert.equal(fixed.ecx >>> 31, 1);
  assert.deepEqual(nativeSampledCpuid(s, version, 0), raw);
  // The fixed CPUID(0x15) has the TD's 1:1 ratio; the native frequency still comes from the CPU's.
  const tsc = Number(p.spec.enumValue("CPUID_LEAF", "TSC_CRYSTAL"));
  assert.equal(sampledCpuid(s, tsc, 0)!.eax, 1);
  assert.equal(nativeTscHz(p.spec, p.cpu, p.module.state), hz);
});
