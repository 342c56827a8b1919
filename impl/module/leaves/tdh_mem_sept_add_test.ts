import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { entryAt, NULL_PA } from "../sept.ts";
import {
  assertReported,
  GPA,
  type LeafCall,
  type MemoryTd,
  NOT_IN_TDMR,
  statusTests,
  tdGateRows,
} from "../testing/memory_fixture.ts";

const LEAF = "TDH.MEM.SEPT.ADD";
const NULL = NULL_PA;

/** Version 0 inputs: a new page for the level-3 entry of GPA. */
function add(m: MemoryTd, over: Partial<Record<string, bigint>> = {}, version = 0): LeafCall {
  const inputs: Record<string, bigint> = {
    gpa_and_level: m.gal(GPA, 3),
    tdr_and_flags: m.tdr,
    sept_page_pa: m.page(),
    ...over,
  };
  if (version > 0) {
    for (const n of ["l2_sept_page_pa_vm1", "l2_sept_page_pa_vm2", "l2_sept_page_pa_vm3"]) {
      inputs[n] ??= NULL;
    }
  }
  return { inputs, version };
}

/** Version 1 with an L2 page for VM `vm` whose page value is `pa`. */
function addL2(m: MemoryTd, vm: number, pa: bigint, level = 3): LeafCall {
  m.tables(GPA, level - 1); // the L1 entry at `level` is NL_MAPPED
  return add(m, {
    gpa_and_level: m.gal(GPA, level),
    sept_page_pa: NULL,
    [`l2_sept_page_pa_vm${vm}`]: pa,
  }, 1);
}

const l2Rows = [1, 2, 3].flatMap((vm) => {
  const operand = `R${8 + vm}`;
  const td = { numL2Vms: 3 };
  return [
    {
      status: "TDX_OPERAND_INVALID",
      operand,
      why: `an L2 page for VM ${vm} of a TD with ${vm - 1} L2 VMs`,
      td: { numL2Vms: vm - 1 },
      setup: (m: MemoryTd) => addL2(m, vm, m.page()),
    },
    {
      status: "TDX_OPERAND_INVALID",
      operand,
      why: `the L2 page of VM ${vm} is not 4 KiB aligned`,
      td,
      setup: (m: MemoryTd) => addL2(m, vm, m.page() + 0x800n),
    },
    {
      status: "TDX_OPERAND_ADDR_RANGE_ERROR",
      operand,
      why: `the L2 page of VM ${vm} is in no TDMR`,
      td,
      setup: (m: MemoryTd) => addL2(m, vm, NOT_IN_TDMR),
    },
    {
      status: "TDX_OPERAND_BUSY",
      operand,
      why: `the L2 page of VM ${vm} is locked`,
      td,
      setup: (m: MemoryTd) => {
        const pa = m.page();
        m.hold(lockKey.page(pa));
        return addL2(m, vm, pa);
      },
    },
    {
      status: "TDX_PAGE_METADATA_INCORRECT",
      operand,
      why: `the L2 page of VM ${vm} is the TDR`,
      td,
      setup: (m: MemoryTd) => addL2(m, vm, m.tdr),
    },
  ];
});

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a level-3 page: the entry becomes NL_MAPPED, the page PT_EPT of the TD",
    setup: (m) => add(m),
    then: (m, r) => {
      const e = entryAt(m.td, 3, GPA);
      assert.equal(e.state, "NL_MAPPED");
      const pamt = m.state.pamt.get(e.hpa);
      assert.equal(pamt.pageType, "PT_EPT");
      assert.equal(pamt.owner, m.tdr);
      assert.equal(r.out.sept_entry, 0n);
      assert.equal(r.out.sept_level_and_state, 0n);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "version 1: the L1 page exists (R8 NULL_PA), an L2 page is added for VM 1",
    td: { numL2Vms: 1 },
    setup: (m) => addL2(m, 1, m.page()),
    then: (m, r) => {
      assert.equal(r.out.sept_page_pa, NULL);
      assert.equal(r.out.l2_sept_page_pa_vm1, NULL, "consumed");
      assert.equal(entryAt(m.td, 3, GPA, 1).state, "L2_NL_MAPPED");
      assert.equal(entryAt(m.td, 3, GPA).aliases, 2);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "version 1, ALLOW_EXISTING: an existing page is not used and comes back with bit 63",
    setup: (m) => {
      m.tables(GPA, 2);
      const pa = m.page();
      return add(
        m,
        { gpa_and_level: m.gal(GPA, 3), tdr_and_flags: m.tdr | 1n, sept_page_pa: pa },
        1,
      );
    },
    then: (m, r) => {
      assert.equal(r.out.sept_page_pa >> 63n, 1n);
      assert.equal(m.state.pamt.get(r.out.sept_page_pa & ~(1n << 63n)).pageType, "PT_NDA");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a 5-level Secure EPT (GPAW 52): a level-4 page",
    td: { gpaw52: true },
    setup: (m) => add(m, { gpa_and_level: m.gal(GPA, 4) }),
    then: (m) => assert.equal(entryAt(m.td, 4, GPA).state, "NL_MAPPED"),
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "RCX",
    why: "a 5-level Secure EPT: level 3 with no level-4 page stops at level 4",
    td: { gpaw52: true },
    setup: (m) => add(m),
    then: (m, r) => assertReported(m, r, 4, "FREE"),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a 5-level Secure EPT: bit 51 is the SHARED bit",
    td: { gpaw52: true },
    setup: (m) => add(m, { gpa_and_level: m.gal(1n << 51n, 4) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RAX",
    why: "version 2",
    setup: (m) => add(m, {}, 2),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "RDX bit 1 (reserved) set",
    setup: (m) => add(m, { tdr_and_flags: m.tdr | 2n }),
  },
  ...tdGateRows({
    tdrInput: "tdr_and_flags",
    tdrOperand: "RDX",
    inputs: (m, tdr) => add(m, { tdr_and_flags: tdr }),
  }),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "level 0 (a leaf level)",
    setup: (m) => add(m, { gpa_and_level: m.gal(GPA, 0) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "level 4 with a 4-level Secure EPT",
    setup: (m) => add(m, { gpa_and_level: m.gal(0n, 4) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "GPA not aligned to the level",
    setup: (m) => add(m, { gpa_and_level: m.galRaw(GPA + 0x1000n, 1) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA (bit 47 with GPAW 48)",
    setup: (m) => add(m, { gpa_and_level: m.gal(1n << 47n, 3) }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "another operation holds the SEPT tree exclusively",
    setup: (m) => {
      m.hold(lockKey.septTree(m.tdr));
      return add(m);
    },
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "RCX",
    why: "level 1 with no level-2 page: the walk stops at a FREE level-3 entry",
    setup: (m) => add(m, { gpa_and_level: m.gal(GPA, 1) }),
    then: (m, r) => assertReported(m, r, 3, "FREE"),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the entry is locked by another operation",
    setup: (m) => {
      m.holdSeptEntry(GPA, 3);
      return add(m);
    },
    then: (m, r) => assertReported(m, r, 3, "FREE"),
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "the level-1 entry is a 2 MiB leaf (PENDING)",
    setup: (m) => {
      m.aug(GPA, 1);
      return add(m, { gpa_and_level: m.gal(GPA, 1) });
    },
    then: (m, r) => assertReported(m, r, 1, "PENDING"),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "version 0 with R8 = NULL_PA",
    setup: (m) => add(m, { sept_page_pa: NULL }),
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "version 1, R8 = NULL_PA but the entry is FREE",
    setup: (m) => add(m, { sept_page_pa: NULL }, 1),
    then: (m, r) => assertReported(m, r, 3, "FREE"),
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "a page for an NL_MAPPED entry without ALLOW_EXISTING",
    setup: (m) => {
      m.tables(GPA, 2);
      return add(m);
    },
    then: (m, r) => assertReported(m, r, 3, "NL_MAPPED"),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the new page has HKID bits",
    setup: (m) => add(m, { sept_page_pa: m.page() | (1n << 46n) }),
  },
  {
    status: "TDX_OPERAND_ADDR_RANGE_ERROR",
    operand: "R8",
    why: "the new page is in no TDMR",
    setup: (m) => add(m, { sept_page_pa: NOT_IN_TDMR }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "R8",
    why: "the new page's PAMT entry is locked",
    setup: (m) => {
      const pa = m.page();
      m.hold(lockKey.page(pa));
      return add(m, { sept_page_pa: pa });
    },
  },
  {
    status: "TDX_PAGE_METADATA_INCORRECT",
    operand: "R8",
    why: "the new page is already a Secure EPT page",
    setup: (m) => {
      const used = m.septAdd(GPA, 3);
      return add(m, { gpa_and_level: m.gal(GPA + (1n << 39n), 3), sept_page_pa: used });
    },
  },
  ...l2Rows,
  {
    status: "TDX_L2_SEPT_WALK_FAILED",
    detail: (1n << 16n) | 3n,
    why: "an L2 page at level 2 while VM 1 has no level-3 L2 page",
    td: { numL2Vms: 1 },
    setup: (m) => addL2(m, 1, m.page(), 2),
    then: (m, r) => {
      assertReported(m, r, 3, "L2_FREE");
      const vm = (r.out.sept_level_and_state >> 16n) & 3n;
      assert.equal(vm, 1n, "RDX names VM 1");
    },
  },
  {
    status: "TDX_L2_SEPT_ENTRY_NOT_FREE",
    detail: (1n << 16n) | 3n,
    why: "VM 1 already has the L2 page and ALLOW_EXISTING is 0",
    td: { numL2Vms: 1 },
    setup: (m) => {
      m.l2Tables(GPA, 2, 1);
      return addL2(m, 1, m.page());
    },
    then: (m, r) => assertReported(m, r, 3, "L2_NL_MAPPED"),
  },
  {
    status: "TDX_INTERRUPTED_RESUMABLE",
    why: "an interrupt is pending after the L1 page was added; the call resumes",
    td: { numL2Vms: 1 },
    setup: (m) => {
      m.interruptPending(true);
      return add(m, { l2_sept_page_pa_vm1: m.page() }, 1);
    },
    then: (m, r) => {
      assert.equal(r.out.sept_page_pa, NULL, "the L1 page was consumed");
      assert.notEqual(r.out.l2_sept_page_pa_vm1, NULL, "the L2 page was not");
      assert.equal(r.out.sept_entry, m.gal(GPA, 3), "RCX restored");
      assert.equal(r.out.sept_level_and_state, m.tdr, "RDX restored");
      assert.equal(entryAt(m.td, 3, GPA).state, "NL_MAPPED");
      m.interruptPending(false);
      const again = m.call(LEAF, {
        gpa_and_level: r.out.sept_entry,
        tdr_and_flags: r.out.sept_level_and_state,
        sept_page_pa: r.out.sept_page_pa,
        l2_sept_page_pa_vm1: r.out.l2_sept_page_pa_vm1,
        l2_sept_page_pa_vm2: r.out.l2_sept_page_pa_vm2,
        l2_sept_page_pa_vm3: r.out.l2_sept_page_pa_vm3,
      }, { version: 1 });
      assert.equal(again.name, "TDX_SUCCESS");
      assert.equal(entryAt(m.td, 3, GPA, 1).state, "L2_NL_MAPPED");
    },
  },
]);
