import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { lockKey } from "../locks.ts";
import { childEntries, entryAt, NULL_PA, setL2Leaf } from "../sept.ts";
import {
  assertReported,
  GPA,
  type LeafCall,
  type MemoryTd,
  NOT_IN_TDMR,
  statusTests,
  tdGateRows,
} from "../testing/memory_fixture.ts";

const LEAF = "TDH.MEM.PAGE.DEMOTE";
const L2_INPUTS = ["l2_sept_page_pa_vm1", "l2_sept_page_pa_vm2", "l2_sept_page_pa_vm3"];

function demote(m: MemoryTd, over: Partial<Record<string, bigint>> = {}): LeafCall {
  return {
    inputs: {
      gpa_and_level: m.gal(GPA, 1),
      tdr_and_flags: m.tdr,
      sept_page_pa: m.page(),
      l2_sept_page_pa_vm1: NULL_PA,
      l2_sept_page_pa_vm2: NULL_PA,
      l2_sept_page_pa_vm3: NULL_PA,
      ...over,
    },
  };
}

/** A 2 MiB PENDING page at GPA (blocked and tracked when the TD runs). */
function large(m: MemoryTd): bigint {
  const pa = m.aug(GPA, 1);
  if (m.td.opState === "OP_STATE_RUNNABLE") {
    m.block(GPA, 1);
    m.track();
  }
  return pa;
}

/** L2 VM `vm` aliases the 2 MiB page. */
function alias(m: MemoryTd, vm: number): void {
  m.l2Tables(GPA, 1, vm);
  const attrs = encodeBits(m.spec.bitfield("GPA_ATTR_SINGLE_VM").fields, { r: 1n, valid: 1n });
  setL2Leaf(m.spec, m.td, vm, GPA, 1, attrs);
}

const l2PageRows = [1, 2, 3].flatMap((vm) => {
  const operand = `R${8 + vm}`;
  const input = L2_INPUTS[vm - 1];
  const td = { numL2Vms: 3 };
  const withL2 = (m: MemoryTd, pa: bigint) => {
    large(m);
    return demote(m, { [input]: pa });
  };
  return [
    {
      status: "TDX_L2_SEPT_PAGE_NOT_PROVIDED",
      operand,
      why: `VM ${vm} aliases the page but no L2 page is given for it`,
      td,
      setup: (m: MemoryTd) => {
        large(m);
        alias(m, vm);
        return demote(m);
      },
    },
    {
      status: "TDX_OPERAND_INVALID",
      operand,
      why: `the L2 page of VM ${vm} is not aligned`,
      td,
      setup: (m: MemoryTd) => withL2(m, m.page() + 0x100n),
    },
    {
      status: "TDX_OPERAND_ADDR_RANGE_ERROR",
      operand,
      why: `the L2 page of VM ${vm} is in no TDMR`,
      td,
      setup: (m: MemoryTd) => withL2(m, NOT_IN_TDMR),
    },
    {
      status: "TDX_OPERAND_BUSY",
      operand,
      why: `the L2 page of VM ${vm} is locked`,
      td,
      setup: (m: MemoryTd) => {
        const pa = m.page();
        m.hold(lockKey.page(pa));
        return withL2(m, pa);
      },
    },
    {
      status: "TDX_PAGE_METADATA_INCORRECT",
      operand,
      why: `the L2 page of VM ${vm} is the TDR`,
      td,
      setup: (m: MemoryTd) => withL2(m, m.tdr),
    },
  ];
});

type WithPa = MemoryTd & { pa?: bigint };

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a 2 MiB PENDING page becomes 512 PENDING 4 KiB pages, PAMT split too",
    setup: (m) => {
      (m as WithPa).pa = large(m);
      return demote(m);
    },
    then: (m) => {
      const pa = (m as WithPa).pa!;
      const parent = entryAt(m.td, 1, GPA);
      assert.equal(parent.state, "NL_MAPPED");
      assert.equal(m.state.pamt.get(parent.hpa).pageType, "PT_EPT");
      const kids = childEntries(m.td, GPA, 1);
      assert.ok(
        kids.every((c, i) =>
          c.entry.state === "PENDING" && c.entry.hpa === pa + BigInt(i) * 0x1000n
        ),
      );
      assert.deepEqual(
        [m.state.pamt.get(pa + 0x5000n).pageType, m.state.pamt.get(pa + 0x5000n).level],
        ["PT_REG", 0],
      );
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a running TD with an aliasing L2 VM: blocked+tracked, the L2 leaf is split too",
    td: { stage: "runnable", numL2Vms: 1 },
    setup: (m) => {
      m.aug(GPA, 1);
      alias(m, 1);
      m.block(GPA, 1);
      m.track();
      return demote(m, { l2_sept_page_pa_vm1: m.page() });
    },
    then: (m, r) => {
      assert.equal(entryAt(m.td, 1, GPA).state, "NL_MAPPED");
      assert.equal(entryAt(m.td, 1, GPA, 1).state, "L2_NL_MAPPED");
      assert.equal(
        entryAt(m.td, 0, GPA + 0x3000n, 1).state,
        "L2_BLOCKED",
        "pending: stays blocked",
      );
      assert.equal(r.out.l2_sept_page_pa_vm1 >> 63n, 0n);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "sparse mode: an L2 page for a VM that does not alias the page is not used (bit 63)",
    td: { numL2Vms: 1 },
    setup: (m) => {
      large(m);
      return demote(m, { tdr_and_flags: m.tdr | 1n, l2_sept_page_pa_vm1: m.page() });
    },
    then: (_m, r) => assert.equal(r.out.l2_sept_page_pa_vm1 >> 63n, 1n),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "RDX bits 11:1 set",
    setup: (m) => demote(m, { tdr_and_flags: m.tdr | 0x10n }),
  },
  ...tdGateRows({
    tdrInput: "tdr_and_flags",
    tdrOperand: "RDX",
    inputs: (m, tdr) => demote(m, { tdr_and_flags: tdr }),
  }),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "level 0",
    setup: (m) => demote(m, { gpa_and_level: m.gal(GPA, 0) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA",
    setup: (m) => demote(m, { gpa_and_level: m.gal(GPA | (1n << 47n), 1) }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "the SEPT tree is held exclusively",
    setup: (m) => {
      m.hold(lockKey.septTree(m.tdr));
      return demote(m);
    },
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "RCX",
    why: "no Secure EPT pages",
    setup: (m) => demote(m),
    then: (m, r) => assertReported(m, r, 3, "FREE"),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the entry is locked",
    setup: (m) => {
      large(m);
      m.holdSeptEntry(GPA, 1);
      return demote(m);
    },
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "already split (NL_MAPPED)",
    setup: (m) => {
      m.tables(GPA, 0);
      return demote(m);
    },
    then: (m, r) => assertReported(m, r, 1, "NL_MAPPED"),
  },
  {
    status: "TDX_GPA_RANGE_NOT_BLOCKED",
    operand: "RCX",
    why: "a running TD, not blocked",
    td: { stage: "runnable" },
    setup: (m) => {
      m.aug(GPA, 1);
      return demote(m);
    },
    then: (m, r) => assertReported(m, r, 1, "PENDING"),
  },
  {
    status: "TDX_TLB_TRACKING_NOT_DONE",
    operand: "RCX",
    why: "blocked, not tracked",
    td: { stage: "runnable" },
    setup: (m) => {
      m.aug(GPA, 1);
      m.block(GPA, 1);
      return demote(m);
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the new Secure EPT page has HKID bits",
    setup: (m) => {
      large(m);
      return demote(m, { sept_page_pa: m.p.cpu.memory.withKeyId(m.page(), 1) });
    },
  },
  {
    status: "TDX_OPERAND_ADDR_RANGE_ERROR",
    operand: "R8",
    why: "the new page is in no TDMR",
    setup: (m) => {
      large(m);
      return demote(m, { sept_page_pa: NOT_IN_TDMR });
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "R8",
    why: "the new page is locked",
    setup: (m) => {
      large(m);
      const pa = m.page();
      m.hold(lockKey.page(pa));
      return demote(m, { sept_page_pa: pa });
    },
  },
  {
    status: "TDX_PAGE_METADATA_INCORRECT",
    operand: "R8",
    why: "the new page is a 4 KiB page inside the 2 MiB page being split",
    setup: (m) => {
      const pa = large(m);
      return demote(m, { sept_page_pa: pa + 0x1000n });
    },
  },
  ...l2PageRows,
  {
    status: "TDX_INTERRUPTED_RESTARTABLE",
    why: "an interrupt is pending: nothing is done, RCX and RDX keep their inputs",
    setup: (m) => {
      large(m);
      m.interruptPending(true);
      return demote(m);
    },
    then: (m, r) => {
      assert.equal(r.out.sept_entry, m.gal(GPA, 1));
      assert.equal(r.out.sept_level_and_state, m.tdr);
      assert.equal(entryAt(m.td, 1, GPA).state, "PENDING");
    },
  },
  {
    status: "TDX_L2_SEPT_WALK_FAILED",
    detail: (1n << 16n) | 3n,
    why: "VM 1 has no L2 Secure EPT pages down to level 1",
    td: { numL2Vms: 1 },
    setup: (m) => {
      large(m);
      return demote(m, { l2_sept_page_pa_vm1: m.page() });
    },
    then: (m, r) => assertReported(m, r, 3, "L2_FREE"),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the 2 MiB page's PAMT entry is locked",
    setup: (m) => {
      m.hold(lockKey.page(large(m)));
      return demote(m);
    },
  },
]);
