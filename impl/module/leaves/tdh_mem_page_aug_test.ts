import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { entryAt } from "../sept.ts";
import {
  assertReported,
  GPA,
  type LeafCall,
  MB2,
  type MemoryTd,
  NOT_IN_TDMR,
  statusTests,
  tdGateRows,
} from "../testing/memory_fixture.ts";

const LEAF = "TDH.MEM.PAGE.AUG";

function aug(m: MemoryTd, over: Partial<Record<string, bigint>> = {}, level = 0): LeafCall {
  m.tables(GPA, level);
  return {
    inputs: {
      gpa_and_level: m.gal(GPA, level),
      tdr_pa: m.tdr,
      target_page_pa: level === 0 ? m.page() : m.p.allocRange(MB2, MB2),
      ...over,
    },
  };
}

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a 4 KiB page of a running TD is mapped PENDING, owned by the TD",
    td: { stage: "runnable" },
    setup: (m) => aug(m),
    then: (m) => {
      const e = entryAt(m.td, 0, GPA);
      assert.equal(e.state, "PENDING");
      const pamt = m.state.pamt.get(e.hpa);
      assert.deepEqual([pamt.pageType, pamt.owner, pamt.level], ["PT_REG", m.tdr, 0]);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a 2 MiB page: one PAMT entry of level 1, inner 4 KiB pages are not free any more",
    setup: (m) => aug(m, {}, 1),
    then: (m) => {
      const e = entryAt(m.td, 1, GPA);
      assert.equal(e.state, "PENDING");
      assert.equal(m.state.pamt.get(e.hpa).level, 1);
      assert.equal(m.state.pamt.leaf(e.hpa + 0x5000n).entry.pageType, "PT_REG");
    },
  },
  ...tdGateRows({
    tdrInput: "tdr_pa",
    tdrOperand: "RDX",
    inputs: (m, tdr) => ({
      inputs: { gpa_and_level: m.gal(GPA, 0), tdr_pa: tdr, target_page_pa: m.page() },
    }),
  }),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "level 2 (1 GiB pages cannot be added)",
    setup: (m) => aug(m, { gpa_and_level: m.gal(GPA, 2) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA",
    setup: (m) => aug(m, { gpa_and_level: m.gal(GPA | (1n << 47n), 0) }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "the SEPT tree is held exclusively",
    setup: (m) => {
      const call = aug(m);
      m.hold(lockKey.septTree(m.tdr));
      return call;
    },
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "RCX",
    why: "a 2 MiB leaf maps the range of the 4 KiB request",
    setup: (m) => {
      m.aug(GPA, 1);
      return aug(m, { gpa_and_level: m.gal(GPA + 0x3000n, 0) }, 1);
    },
    then: (m, r) => assertReported(m, r, 1, "PENDING"),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the entry is locked",
    setup: (m) => {
      m.holdSeptEntry(GPA, 0);
      return aug(m);
    },
    then: (m, r) => assertReported(m, r, 0, "FREE"),
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "the GPA is already mapped",
    setup: (m) => {
      m.aug(GPA);
      return aug(m);
    },
    then: (m, r) => assertReported(m, r, 0, "PENDING"),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "a 2 MiB target that is only 4 KiB aligned",
    setup: (m) => aug(m, { target_page_pa: m.p.allocRange(MB2, MB2) + 0x1000n }, 1),
  },
  {
    status: "TDX_OPERAND_ADDR_RANGE_ERROR",
    operand: "R8",
    why: "the target is in no TDMR",
    setup: (m) => aug(m, { target_page_pa: NOT_IN_TDMR }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "R8",
    why: "the target's PAMT entry is locked",
    setup: (m) => {
      const pa = m.page();
      m.hold(lockKey.page(pa), "shared");
      return aug(m, { target_page_pa: pa });
    },
  },
  {
    status: "TDX_PAGE_METADATA_INCORRECT",
    operand: "R8",
    why: "the target is a Secure EPT page",
    setup: (m) => aug(m, { target_page_pa: m.septAdd(GPA + (1n << 39n), 3) }),
  },
  {
    status: "TDX_PAGE_METADATA_INCORRECT",
    operand: "R8",
    why: "a 2 MiB range with one 4 KiB page in use",
    setup: (m) => {
      const range = m.p.allocRange(MB2, MB2);
      m.aug(GPA + MB2, 0, range + 0x7000n);
      return aug(m, { target_page_pa: range }, 1);
    },
  },
  {
    status: "TDX_PAGE_METADATA_INCORRECT",
    operand: "R8",
    why: "a 4 KiB page inside a TD's 2 MiB page",
    setup: (m) => {
      const big = m.aug(GPA + 4n * MB2, 1);
      return aug(m, { target_page_pa: big + 0x2000n });
    },
  },
]);
