import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { entryAt, NULL_PA } from "../sept.ts";
import {
  assertReported,
  GPA,
  type LeafCall,
  type MemoryTd,
  statusTests,
  tdGateRows,
} from "../testing/memory_fixture.ts";

const LEAF = "TDH.MEM.SEPT.REMOVE";

/** Removes the level-1 Secure EPT page of GPA (the page the level-1 entry points to). */
function remove(m: MemoryTd, over: Partial<Record<string, bigint>> = {}, version = 0): LeafCall {
  return { inputs: { gpa_and_level: m.gal(GPA, 1), tdr_pa: m.tdr, ...over }, version };
}

/** A level-1 entry pointing to an empty Secure EPT page. */
function emptyPage(m: MemoryTd): bigint {
  m.tables(GPA, 0);
  return entryAt(m.td, 1, GPA).hpa;
}

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "before finalization no block is needed; the page is PT_NDA again",
    setup: (m) => {
      (m as MemoryTd & { sept?: bigint }).sept = emptyPage(m);
      return remove(m);
    },
    then: (m, r) => {
      const page = (m as MemoryTd & { sept?: bigint }).sept!;
      assert.equal(r.out.removed_sept_page_pa_or_sept_entry, page);
      assert.equal(m.state.pamt.get(page).pageType, "PT_NDA");
      assert.equal(entryAt(m.td, 1, GPA).state, "FREE");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a running TD: blocked and tracked first; version 1 returns the L2 page",
    td: { numL2Vms: 1, stage: "runnable" },
    setup: (m) => {
      m.l2Tables(GPA, 0, 1);
      m.block(GPA, 1);
      m.track();
      return remove(m, {}, 1);
    },
    then: (m, r) => {
      assert.notEqual(r.out.removed_l2_sept_page_vm1, NULL_PA);
      assert.equal(r.out.removed_l2_sept_page_vm2, NULL_PA);
      assert.equal(m.state.pamt.get(r.out.removed_l2_sept_page_vm1).pageType, "PT_NDA");
      assert.equal(entryAt(m.td, 1, GPA, 1).state, "L2_FREE");
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RAX",
    why: "version 2",
    setup: (m) => remove(m, {}, 2),
  },
  ...tdGateRows({
    tdrInput: "tdr_pa",
    tdrOperand: "RDX",
    inputs: (m, tdr) => remove(m, { tdr_pa: tdr }),
  }),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "level 0",
    setup: (m) => remove(m, { gpa_and_level: m.gal(GPA, 0) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA",
    setup: (m) => remove(m, { gpa_and_level: m.gal(1n << 47n, 1) }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "another operation holds the SEPT tree (shared): this leaf needs it exclusively",
    setup: (m) => {
      m.hold(lockKey.septTree(m.tdr), "shared");
      return remove(m);
    },
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "RCX",
    why: "no level-2 page",
    setup: (m) => remove(m),
    then: (m, r) => assertReported(m, r, 3, "FREE", "removed_sept_page_pa_or_sept_entry"),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the entry is locked",
    setup: (m) => {
      emptyPage(m);
      m.holdSeptEntry(GPA, 1);
      return remove(m);
    },
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "the entry is FREE",
    setup: (m) => {
      m.tables(GPA, 1);
      return remove(m);
    },
    then: (m, r) => assertReported(m, r, 1, "FREE", "removed_sept_page_pa_or_sept_entry"),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the Secure EPT page's PAMT entry is locked",
    setup: (m) => {
      m.hold(lockKey.page(emptyPage(m)));
      return remove(m);
    },
  },
  {
    status: "TDX_GPA_RANGE_NOT_BLOCKED",
    operand: "RCX",
    why: "a running TD, the entry is not blocked",
    td: { stage: "runnable" },
    setup: (m) => {
      emptyPage(m);
      return remove(m);
    },
    then: (m, r) => assertReported(m, r, 1, "NL_MAPPED", "removed_sept_page_pa_or_sept_entry"),
  },
  {
    status: "TDX_TLB_TRACKING_NOT_DONE",
    operand: "RCX",
    why: "blocked but TDH.MEM.TRACK has not run",
    td: { stage: "runnable" },
    setup: (m) => {
      emptyPage(m);
      m.block(GPA, 1);
      return remove(m);
    },
  },
  {
    status: "TDX_EPT_PAGE_NOT_FREE",
    operand: "RCX",
    why: "a page is mapped below",
    setup: (m) => {
      m.pageAdd(GPA);
      return remove(m);
    },
    then: (m, r) => assertReported(m, r, 1, "NL_MAPPED", "removed_sept_page_pa_or_sept_entry"),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the aliased L2 Secure EPT page's PAMT entry is locked",
    td: { numL2Vms: 1 },
    setup: (m) => {
      m.l2Tables(GPA, 0, 1);
      m.hold(lockKey.page(entryAt(m.td, 1, GPA, 1).hpa));
      return remove(m);
    },
  },
]);
