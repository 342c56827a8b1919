import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { lockKey } from "../locks.ts";

const GiB = 1n << 30n;

interface Row {
  name: string;
  before?: (p: Platform) => void;
  setup?: (p: Platform) => void;
  base?: (p: Platform) => bigint;
  raxExtra?: bigint;
  want: Expected;
  rdx?: (p: Platform) => bigint;
}

/** Up to SYS_READY with no TDMR initialised yet. */
function ready(p: Platform) {
  p.initLps();
  p.configure();
  p.configureKeys();
}

const second = (p: Platform) => p.tdmrPlan()[1].base;

const ROWS: Row[] = [
  { name: "first chunk", want: { name: "TDX_SUCCESS" }, rdx: second },
  {
    name: "RAX reserved bits",
    raxExtra: 1n << 55n,
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
    name: "keys not configured",
    before: (p) => {
      p.initLps();
      p.configure();
    },
    want: { name: "TDX_SYS_NOT_READY" },
  },
  {
    name: "not 1 GiB aligned",
    base: (p) => second(p) + (2n << 20n),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "above MAX_PA",
    base: () => 1n << 52n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "HKID bits",
    base: (p) => p.cpu.memory.withKeyId(second(p), 1),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "not a TDMR base",
    base: (p) => second(p) + GiB,
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "TDMR being initialised on another LP",
    setup: (p) => void p.module.state.locks.hold(lockKey.tdmr(second(p)), "exclusive"),
    want: { name: "TDX_OPERAND_BUSY", operand: "RCX" },
  },
  {
    name: "TDMR already initialised",
    setup: (p) => p.initTdmrs(),
    want: { name: "TDX_TDMR_ALREADY_INITIALIZED" },
    rdx: () => 0n,
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.SYS.TDMR.INIT: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    (row.before ?? ready)(p);
    row.setup?.(p);
    const base = row.base?.(p) ?? second(p);
    const r = p.seamcallRaw("TDH.SYS.TDMR.INIT", { tdmr_base: base }, { raxExtra: row.raxExtra });
    expectStatus(r, row.want, row.name);
    assert.equal(r.out.next_to_initialize, row.rdx?.(p) ?? 0n);
  });
}

Deno.test("TDH.SYS.TDMR.INIT works in chunks and reports only whole GiBs", () => {
  const p = new Platform();
  ready(p);
  const t = p.module.state.platform.tdmrs[1];
  const chunk = 1024n * 4096n;
  const callsPerGiB = Number(GiB / chunk);
  const seen: bigint[] = [];
  for (let i = 0; i < callsPerGiB + 1; i++) {
    seen.push(p.seamcall("TDH.SYS.TDMR.INIT", { tdmr_base: t.base }).out.next_to_initialize);
  }
  assert.ok(seen.slice(0, callsPerGiB - 1).every((v) => v === t.base));
  assert.equal(seen[callsPerGiB - 1], t.base + GiB);
  assert.equal(t.initialized, BigInt(callsPerGiB + 1) * chunk);
  // A page of the first GiB is usable (PT_NDA); the rest of the TDMR is not yet.
  expectStatus(p.seamcall("TDH.PHYMEM.PAGE.RDMD", { page_pa: t.base }), { name: "TDX_SUCCESS" });
  expectStatus(p.seamcall("TDH.PHYMEM.PAGE.RDMD", { page_pa: t.base + GiB }), {
    name: "TDX_OPERAND_ADDR_RANGE_ERROR",
    operand: "RCX",
  });
});

Deno.test("TDH.SYS.TDMR.INIT marks reserved pages PT_RSVD", () => {
  const p = new Platform();
  p.readyPlatform();
  const t = p.module.state.platform.tdmrs[0];
  const r = t.reserved[0];
  const pa = t.base + r.offset;
  assert.equal(p.module.state.pamt.get(pa).pageType, "PT_RSVD");
  assert.equal(p.module.state.pamt.get(pa + r.size - 4096n).pageType, "PT_RSVD");
  assert.equal(p.module.state.pamt.get(pa - 4096n).pageType, "PT_NDA");
  const md = p.seamcall("TDH.PHYMEM.PAGE.RDMD", { page_pa: pa });
  assert.equal(md.out.page_type, p.spec.enumValue("PAGE_TYPE", "PT_RSVD"));
});
