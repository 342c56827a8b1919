import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { entryAt } from "../sept.ts";
import {
  assertReported,
  GPA,
  type LeafCall,
  MB2,
  type MemoryTd,
  statusTests,
  tdGateRows,
} from "../testing/memory_fixture.ts";

const LEAF = "TDH.MEM.PAGE.REMOVE";
const OUT = "removed_page_pa_or_sept_entry";

function remove(m: MemoryTd, over: Partial<Record<string, bigint>> = {}, level = 0): LeafCall {
  return { inputs: { gpa_and_level: m.gal(GPA, level), tdr_pa: m.tdr, ...over } };
}

type WithPa = MemoryTd & { pa?: bigint };

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a MAPPED page of a TD being built: no block needed",
    setup: (m) => {
      (m as WithPa).pa = m.pageAdd(GPA);
      return remove(m);
    },
    then: (m, r) => {
      const pa = (m as WithPa).pa!;
      assert.equal(r.out[OUT], pa);
      assert.equal(m.state.pamt.get(pa).pageType, "PT_NDA");
      assert.equal(entryAt(m.td, 0, GPA).state, "FREE");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a 2 MiB page of a running TD after BLOCK and TRACK",
    td: { stage: "runnable" },
    setup: (m) => {
      (m as WithPa).pa = m.aug(GPA, 1);
      m.block(GPA, 1);
      m.track();
      return remove(m, {}, 1);
    },
    then: (m, r) => {
      assert.equal(r.out[OUT], (m as WithPa).pa);
      assert.equal(m.state.pamt.leaf((m as WithPa).pa! + MB2 - 0x1000n).entry.pageType, "PT_NDA");
    },
  },
  ...tdGateRows({
    tdrInput: "tdr_pa",
    tdrOperand: "RDX",
    inputs: (m, tdr) => remove(m, { tdr_pa: tdr }),
  }),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "level 3",
    setup: (m) => remove(m, { gpa_and_level: m.gal(0n, 3) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA",
    setup: (m) => remove(m, { gpa_and_level: m.gal(GPA | (1n << 47n), 0) }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "the SEPT tree is held exclusively",
    setup: (m) => {
      m.hold(lockKey.septTree(m.tdr));
      return remove(m);
    },
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "RCX",
    why: "nothing mapped at all",
    setup: (m) => remove(m),
    then: (m, r) => assertReported(m, r, 3, "FREE", OUT),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the entry is locked",
    setup: (m) => {
      m.pageAdd(GPA);
      m.holdSeptEntry(GPA, 0);
      return remove(m);
    },
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "the level-1 entry is a Secure EPT page, not a leaf",
    setup: (m) => {
      m.tables(GPA, 0);
      return remove(m, {}, 1);
    },
    then: (m, r) => assertReported(m, r, 1, "NL_MAPPED", OUT),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the mapped page's PAMT entry is locked",
    setup: (m) => {
      m.hold(lockKey.page(m.pageAdd(GPA)));
      return remove(m);
    },
  },
  {
    status: "TDX_GPA_RANGE_NOT_BLOCKED",
    operand: "RCX",
    why: "a running TD, the page was not blocked",
    td: { stage: "runnable" },
    setup: (m) => {
      m.aug(GPA);
      return remove(m);
    },
    then: (m, r) => assertReported(m, r, 0, "PENDING", OUT),
  },
  {
    status: "TDX_TLB_TRACKING_NOT_DONE",
    operand: "RCX",
    why: "blocked, but TDH.MEM.TRACK has not run since",
    td: { stage: "runnable" },
    setup: (m) => {
      m.aug(GPA);
      m.block(GPA);
      return remove(m);
    },
  },
]);
