import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { entryAt } from "../sept.ts";
import {
  assertReported,
  GPA,
  type LeafCall,
  type MemoryTd,
  NOT_IN_TDMR,
  statusTests,
  tdGateRows,
} from "../testing/memory_fixture.ts";

const LEAF = "TDH.MEM.PAGE.RELOCATE";
const OUT = "old_page_pa_or_sept_entry";
const DATA = Uint8Array.from({ length: 4096 }, (_, i) => (i * 13) & 0xFF);

function relocate(m: MemoryTd, over: Partial<Record<string, bigint>> = {}): LeafCall {
  return {
    inputs: { gpa_and_level: m.gal(GPA, 0), tdr_pa: m.tdr, target_page_pa: m.page(), ...over },
  };
}

type WithPa = MemoryTd & { pa?: bigint };

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the contents move under the TD's key; the old page is freed",
    setup: (m) => {
      (m as WithPa).pa = m.pageAdd(GPA, DATA);
      return relocate(m);
    },
    then: (m, r) => {
      const old = (m as WithPa).pa!;
      assert.equal(r.out[OUT], old);
      const e = entryAt(m.td, 0, GPA);
      assert.equal(e.state, "MAPPED");
      assert.notEqual(e.hpa, old);
      const mem = m.p.cpu.memory;
      assert.deepEqual(mem.read(mem.withKeyId(e.hpa, m.hkid), 4096), DATA);
      assert.equal(m.state.pamt.get(old).pageType, "PT_NDA");
      assert.equal(m.state.pamt.get(e.hpa).owner, m.tdr);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a running TD: a blocked, tracked page comes back unblocked at its new place",
    td: { stage: "runnable" },
    setup: (m) => {
      m.aug(GPA);
      m.block(GPA);
      m.track();
      return relocate(m);
    },
    then: (m) => assert.equal(entryAt(m.td, 0, GPA).state, "PENDING"),
  },
  ...tdGateRows({
    tdrInput: "tdr_pa",
    tdrOperand: "RDX",
    inputs: (m, tdr) => relocate(m, { tdr_pa: tdr }),
  }),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "level 1",
    setup: (m) => relocate(m, { gpa_and_level: m.gal(GPA, 1) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA",
    setup: (m) => relocate(m, { gpa_and_level: m.gal(GPA | (1n << 47n), 0) }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "the SEPT tree is held exclusively",
    setup: (m) => {
      m.hold(lockKey.septTree(m.tdr));
      return relocate(m);
    },
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "RCX",
    why: "a 2 MiB page maps the GPA",
    setup: (m) => {
      m.aug(GPA, 1);
      return relocate(m);
    },
    then: (m, r) => assertReported(m, r, 1, "PENDING", OUT),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the entry is locked",
    setup: (m) => {
      m.pageAdd(GPA);
      m.holdSeptEntry(GPA, 0);
      return relocate(m);
    },
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "nothing is mapped at the GPA",
    setup: (m) => {
      m.tables(GPA, 0);
      return relocate(m);
    },
    then: (m, r) => assertReported(m, r, 0, "FREE", OUT),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the target is the page already mapped",
    setup: (m) => relocate(m, { target_page_pa: m.pageAdd(GPA) }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the mapped page's PAMT entry is locked",
    setup: (m) => {
      m.hold(lockKey.page(m.pageAdd(GPA)));
      return relocate(m);
    },
  },
  {
    status: "TDX_GPA_RANGE_NOT_BLOCKED",
    operand: "RCX",
    why: "a running TD, the page was not blocked",
    td: { stage: "runnable" },
    setup: (m) => {
      m.aug(GPA);
      return relocate(m);
    },
    then: (m, r) => assertReported(m, r, 0, "PENDING", OUT),
  },
  {
    status: "TDX_TLB_TRACKING_NOT_DONE",
    operand: "RCX",
    why: "blocked, not tracked",
    td: { stage: "runnable" },
    setup: (m) => {
      m.aug(GPA);
      m.block(GPA);
      return relocate(m);
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the target is not 4 KiB aligned",
    setup: (m) => {
      m.pageAdd(GPA);
      return relocate(m, { target_page_pa: m.page() + 0x10n });
    },
  },
  {
    status: "TDX_OPERAND_ADDR_RANGE_ERROR",
    operand: "R8",
    why: "the target is in no TDMR",
    setup: (m) => {
      m.pageAdd(GPA);
      return relocate(m, { target_page_pa: NOT_IN_TDMR });
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "R8",
    why: "the target's PAMT entry is locked",
    setup: (m) => {
      m.pageAdd(GPA);
      const pa = m.page();
      m.hold(lockKey.page(pa));
      return relocate(m, { target_page_pa: pa });
    },
  },
  {
    status: "TDX_PAGE_METADATA_INCORRECT",
    operand: "R8",
    why: "the target is a TD page",
    setup: (m) => {
      m.pageAdd(GPA);
      return relocate(m, { target_page_pa: m.pageAdd(GPA + 0x1000n) });
    },
  },
]);
