import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { entryAt } from "../sept.ts";
import {
  assertReported,
  GPA,
  type LeafCall,
  type MemoryTd,
  statusTests,
  tdGateRows,
} from "../testing/memory_fixture.ts";

const LEAF = "TDH.MEM.RANGE.UNBLOCK";

function unblock(m: MemoryTd, level = 0, over: Partial<Record<string, bigint>> = {}): LeafCall {
  return { inputs: { gpa_and_level: m.gal(GPA, level), tdr_pa: m.tdr, ...over } };
}

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a running TD: blocked, tracked, back to PENDING",
    td: { stage: "runnable" },
    setup: (m) => {
      m.aug(GPA);
      m.block(GPA);
      m.track();
      return unblock(m);
    },
    then: (m) => assert.equal(entryAt(m.td, 0, GPA).state, "PENDING"),
  },
  {
    status: "TDX_SUCCESS",
    why: "a TD being built needs no tracking",
    setup: (m) => {
      m.pageAdd(GPA);
      m.block(GPA, 1);
      return unblock(m, 1);
    },
    then: (m) => assert.equal(entryAt(m.td, 1, GPA).state, "NL_MAPPED"),
  },
  ...tdGateRows({
    tdrInput: "tdr_pa",
    tdrOperand: "RDX",
    inputs: (m, tdr) => unblock(m, 0, { tdr_pa: tdr }),
  }),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "reserved bits in RCX",
    setup: (m) => unblock(m, 0, { gpa_and_level: m.gal(GPA, 0) | 0x8n }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA",
    setup: (m) => unblock(m, 0, { gpa_and_level: m.gal(GPA | (1n << 47n), 0) }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "another operation holds the tree",
    setup: (m) => {
      m.hold(lockKey.septTree(m.tdr), "shared");
      return unblock(m);
    },
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "RCX",
    why: "the level-1 entry above is blocked: the walk stops there",
    setup: (m) => {
      m.pageAdd(GPA);
      m.block(GPA, 1);
      return unblock(m);
    },
    then: (m, r) => assertReported(m, r, 1, "NL_BLOCKED"),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the entry is locked",
    setup: (m) => {
      m.pageAdd(GPA);
      m.block(GPA);
      m.holdSeptEntry(GPA, 0);
      return unblock(m);
    },
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "the entry is not blocked",
    setup: (m) => {
      m.pageAdd(GPA);
      return unblock(m);
    },
    then: (m, r) => assertReported(m, r, 0, "MAPPED"),
  },
  {
    status: "TDX_TLB_TRACKING_NOT_DONE",
    operand: "SEPT_TREE",
    why: "a running TD, blocked but not tracked",
    td: { stage: "runnable" },
    setup: (m) => {
      m.aug(GPA);
      m.block(GPA);
      return unblock(m);
    },
  },
]);
