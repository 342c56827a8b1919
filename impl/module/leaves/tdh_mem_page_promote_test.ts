import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { entryAt, NULL_PA } from "../sept.ts";
import {
  assertReported,
  GPA,
  type LeafCall,
  MB2,
  type MemoryTd,
  statusTests,
  tdGateRows,
} from "../testing/memory_fixture.ts";

const LEAF = "TDH.MEM.PAGE.PROMOTE";
const OUT = "freed_sept_page_pa_or_sept_entry";

function promote(m: MemoryTd, over: Partial<Record<string, bigint>> = {}, version = 0): LeafCall {
  return { inputs: { gpa_and_level: m.gal(GPA, 1), tdr_pa: m.tdr, ...over }, version };
}

/** `count` contiguous 4 KiB PENDING pages from a 2 MiB aligned range; returns its base. */
function fill(m: MemoryTd, count = 512, offset = 0n): bigint {
  const base = m.p.allocRange(MB2, MB2) + offset;
  m.tables(GPA, 0);
  for (let i = 0; i < count; i++) m.aug(GPA + BigInt(i) * 0x1000n, 0, base + BigInt(i) * 0x1000n);
  if (m.td.opState === "OP_STATE_RUNNABLE") {
    m.block(GPA, 1);
    m.track();
  }
  return base;
}

type With = MemoryTd & { base?: bigint; sept?: bigint };

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "512 PENDING pages become one 2 MiB PENDING page; the Secure EPT page is freed",
    setup: (m) => {
      (m as With).base = fill(m);
      (m as With).sept = entryAt(m.td, 1, GPA).hpa;
      return promote(m);
    },
    then: (m, r) => {
      const { base, sept } = m as With;
      assert.equal(r.out[OUT], sept);
      const e = entryAt(m.td, 1, GPA);
      assert.deepEqual([e.state, e.hpa, e.leaf], ["PENDING", base, true]);
      assert.equal(m.state.pamt.get(sept!).pageType, "PT_NDA");
      assert.deepEqual([m.state.pamt.get(base!).level, m.state.pamt.get(base!).pageType], [
        1,
        "PT_REG",
      ]);
      assert.equal(entryAt(m.td, 0, GPA + 0x1000n).state, "FREE");
    },
  },
  {
    status: "TDX_SUCCESS",
    why:
      "version 1, a running TD with an L2 VM aliasing the Secure EPT page: its L2 page is freed too",
    td: { stage: "runnable", numL2Vms: 1 },
    setup: (m) => {
      m.l2Tables(GPA, 0, 1);
      fill(m);
      return promote(m, {}, 1);
    },
    then: (m, r) => {
      assert.notEqual(r.out.freed_l2_sept_page_vm1, NULL_PA);
      assert.equal(r.out.freed_l2_sept_page_vm2, NULL_PA);
      assert.equal(m.state.pamt.get(r.out.freed_l2_sept_page_vm1).pageType, "PT_NDA");
      assert.equal(entryAt(m.td, 1, GPA).state, "PENDING", "the first child, unblocked");
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RAX",
    why: "version 2",
    setup: (m) => promote(m, {}, 2),
  },
  ...tdGateRows({
    tdrInput: "tdr_pa",
    tdrOperand: "RDX",
    inputs: (m, tdr) => promote(m, { tdr_pa: tdr }),
  }),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "level 0",
    setup: (m) => promote(m, { gpa_and_level: m.gal(GPA, 0) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA",
    setup: (m) => promote(m, { gpa_and_level: m.gal(GPA | (1n << 47n), 1) }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "the SEPT tree is held exclusively",
    setup: (m) => {
      m.hold(lockKey.septTree(m.tdr));
      return promote(m);
    },
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "RCX",
    why: "no Secure EPT pages",
    setup: (m) => promote(m),
    then: (m, r) => assertReported(m, r, 3, "FREE", OUT),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the parent entry is locked",
    setup: (m) => {
      m.tables(GPA, 0);
      m.holdSeptEntry(GPA, 1);
      return promote(m);
    },
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "already a 2 MiB leaf",
    setup: (m) => {
      m.aug(GPA, 1);
      return promote(m);
    },
    then: (m, r) => assertReported(m, r, 1, "PENDING", OUT),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the Secure EPT page's PAMT entry is locked",
    setup: (m) => {
      m.tables(GPA, 0);
      m.hold(lockKey.page(entryAt(m.td, 1, GPA).hpa));
      return promote(m);
    },
  },
  {
    status: "TDX_GPA_RANGE_NOT_BLOCKED",
    operand: "RCX",
    why: "a running TD, the parent is not blocked",
    td: { stage: "runnable" },
    setup: (m) => {
      m.tables(GPA, 0);
      return promote(m);
    },
    then: (m, r) => assertReported(m, r, 1, "NL_MAPPED", OUT),
  },
  {
    status: "TDX_TLB_TRACKING_NOT_DONE",
    operand: "RCX",
    why: "blocked, not tracked",
    td: { stage: "runnable" },
    setup: (m) => {
      m.tables(GPA, 0);
      m.block(GPA, 1);
      return promote(m);
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "one of the 512 children is locked",
    setup: (m) => {
      fill(m);
      m.holdSeptEntry(GPA + 0x7000n, 0);
      return promote(m);
    },
    then: (m, r) => assertReported(m, r, 1, "NL_MAPPED", OUT),
  },
  {
    status: "TDX_EPT_INVALID_PROMOTE_CONDITIONS",
    operand: "RCX",
    why: "only 511 of the children are mapped",
    setup: (m) => {
      fill(m, 511);
      return promote(m);
    },
    then: (m, r) => assertReported(m, r, 1, "NL_MAPPED", OUT),
  },
  {
    status: "TDX_EPT_INVALID_PROMOTE_CONDITIONS",
    operand: "RCX",
    why: "contiguous pages but not 2 MiB aligned",
    setup: (m) => {
      const base = m.p.allocRange(2n * MB2, MB2) + 0x1000n;
      m.tables(GPA, 0);
      for (let i = 0; i < 512; i++) {
        m.aug(GPA + BigInt(i) * 0x1000n, 0, base + BigInt(i) * 0x1000n);
      }
      return promote(m);
    },
  },
  {
    status: "TDX_INTERRUPTED_RESTARTABLE",
    why: "an interrupt is pending: nothing is merged",
    setup: (m) => {
      fill(m);
      m.interruptPending(true);
      return promote(m);
    },
    then: (m, r) => {
      assert.equal(r.out[OUT], m.gal(GPA, 1));
      assert.equal(entryAt(m.td, 1, GPA).state, "NL_MAPPED");
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the 2 MiB PAMT entry being merged is locked",
    setup: (m) => {
      m.hold(lockKey.page(fill(m)));
      return promote(m);
    },
  },
]);
