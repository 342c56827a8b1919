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

const LEAF = "TDH.MEM.RANGE.BLOCK";

function block(m: MemoryTd, level = 0, over: Partial<Record<string, bigint>> = {}): LeafCall {
  return { inputs: { gpa_and_level: m.gal(GPA, level), tdr_pa: m.tdr, ...over } };
}

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a PENDING leaf becomes PENDING_BLOCKED; its page records the TD epoch",
    td: { stage: "runnable" },
    setup: (m) => {
      m.aug(GPA);
      return block(m);
    },
    then: (m) => {
      const e = entryAt(m.td, 0, GPA);
      assert.equal(e.state, "PENDING_BLOCKED");
      assert.equal(m.state.pamt.get(e.hpa).bepoch, m.td.epoch);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a non-leaf entry: the subtree is blocked, walks below it stop there",
    setup: (m) => {
      m.pageAdd(GPA);
      return block(m, 1);
    },
    then: (m) => {
      const e = entryAt(m.td, 1, GPA);
      assert.equal(e.state, "NL_BLOCKED");
      assert.equal(m.state.pamt.get(e.hpa).bepoch, m.td.epoch, "the child SEPT page's BEPOCH");
      const r = m.call("TDH.MEM.SEPT.RD", { gpa_and_level: m.gal(GPA, 0), tdr_and_flags: m.tdr });
      assert.equal(r.name, "TDX_EPT_WALK_FAILED");
    },
  },
  ...tdGateRows({
    tdrInput: "tdr_pa",
    tdrOperand: "RDX",
    inputs: (m, tdr) => block(m, 0, { tdr_pa: tdr }),
  }),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "level 4 with a 4-level Secure EPT",
    setup: (m) => block(m, 4, { gpa_and_level: m.gal(0n, 4) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA",
    setup: (m) => block(m, 0, { gpa_and_level: m.gal(GPA | (1n << 47n), 0) }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "another operation holds the tree (shared): blocking needs it exclusively",
    setup: (m) => {
      m.hold(lockKey.septTree(m.tdr), "shared");
      return block(m);
    },
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "RCX",
    why: "no Secure EPT pages",
    setup: (m) => block(m),
    then: (m, r) => assertReported(m, r, 3, "FREE"),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the entry is locked",
    setup: (m) => {
      m.pageAdd(GPA);
      m.holdSeptEntry(GPA, 0);
      return block(m);
    },
    then: (m, r) => assertReported(m, r, 0, "MAPPED"),
  },
  {
    status: "TDX_GPA_RANGE_ALREADY_BLOCKED",
    operand: "RCX",
    why: "blocked twice (a warning: bit 63 clear)",
    setup: (m) => {
      m.pageAdd(GPA);
      m.block(GPA);
      return block(m);
    },
    then: (m, r) => {
      assert.equal(r.status >> 63n, 0n);
      assertReported(m, r, 0, "BLOCKED");
    },
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "a FREE entry",
    setup: (m) => {
      m.tables(GPA, 0);
      return block(m);
    },
    then: (m, r) => assertReported(m, r, 0, "FREE"),
  },
]);
