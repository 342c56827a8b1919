import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { pageAddRecord } from "../mrtd.ts";
import { entryAt } from "../sept.ts";
import { createHash } from "node:crypto";
import {
  assertReported,
  GPA,
  type LeafCall,
  type MemoryTd,
  NOT_IN_TDMR,
  statusTests,
  tdGateRows,
} from "../testing/memory_fixture.ts";

const LEAF = "TDH.MEM.PAGE.ADD";

function pattern(seed: number): Uint8Array {
  return Uint8Array.from({ length: 4096 }, (_, i) => (i * 7 + seed) & 0xFF);
}

function add(m: MemoryTd, over: Partial<Record<string, bigint>> = {}): LeafCall {
  m.tables(GPA, 0);
  return {
    inputs: {
      gpa_and_level: m.gal(GPA, 0),
      tdr_pa: m.tdr,
      target_page_pa: m.page(),
      source_page_pa: m.sharedPage(pattern(1)),
      ...over,
    },
  };
}

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the page is copied under the TD's key, mapped MAPPED and measured",
    setup: (m) => add(m),
    then: (m, r) => {
      assert.equal(r.out.sept_entry, 0n);
      const e = entryAt(m.td, 0, GPA);
      assert.equal(e.state, "MAPPED");
      const pamt = m.state.pamt.get(e.hpa);
      assert.deepEqual([pamt.pageType, pamt.owner, pamt.level], ["PT_REG", m.tdr, 0]);
      const mem = m.p.cpu.memory;
      // The TD's key reads the contents; the host's KeyID 0 reads nothing of them.
      assert.deepEqual(mem.read(mem.withKeyId(e.hpa, m.hkid), 4096), pattern(1));
      assert.deepEqual(mem.read(e.hpa, 4096), new Uint8Array(4096));
      assert.ok(mem.integrityEvents.length > 0, "the host read hit TD-owned lines");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "MRTD absorbs the PAGE.ADD record of the GPA",
    setup: (m) => add(m),
    then: (m) => {
      const record = pageAddRecord(m.spec, GPA);
      assert.equal(new TextDecoder().decode(record.subarray(0, 12)), "MEM.PAGE.ADD");
      assert.equal(new DataView(record.buffer, record.byteOffset).getBigUint64(16, true), GPA);
      // Nothing else was measured since TDH.MNG.INIT.
      const expected = createHash("sha384").update(record).digest();
      assert.deepEqual(m.td.mrtdHash.copy().digest(), expected);
    },
  },
  ...tdGateRows({
    tdrInput: "tdr_pa",
    tdrOperand: "RDX",
    opStateLock: false,
    tdrLock: "exclusive",
    inputs: (m, tdr) => ({
      inputs: {
        gpa_and_level: m.gal(GPA, 0),
        tdr_pa: tdr,
        target_page_pa: m.page(),
        source_page_pa: m.page(),
      },
    }),
  }),
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "the TD is finalized (RUNNABLE): TDH.MEM.PAGE.AUG is the way now",
    td: { stage: "runnable" },
    setup: (m) => add(m),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "level 1",
    setup: (m) => add(m, { gpa_and_level: m.gal(GPA, 1) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA",
    setup: (m) => add(m, { gpa_and_level: m.gal(GPA | (1n << 47n), 0) }),
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "RCX",
    why: "no Secure EPT page below level 2",
    setup: (m) => {
      m.tables(GPA, 2);
      const call = add(m);
      call.inputs.gpa_and_level = m.gal(GPA + (1n << 30n), 0);
      return call;
    },
    then: (m, r) => assertReported(m, r, 2, "FREE"),
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "the GPA is already mapped",
    setup: (m) => {
      m.pageAdd(GPA);
      return add(m);
    },
    then: (m, r) => assertReported(m, r, 0, "MAPPED"),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "the source has a private KeyID",
    setup: (m) => add(m, { source_page_pa: m.p.cpu.memory.withKeyId(m.page(), m.hkid) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the target page has HKID bits",
    setup: (m) => add(m, { target_page_pa: m.p.cpu.memory.withKeyId(m.page(), m.hkid) }),
  },
  {
    status: "TDX_OPERAND_ADDR_RANGE_ERROR",
    operand: "R8",
    why: "the target page is in no TDMR",
    setup: (m) => add(m, { target_page_pa: NOT_IN_TDMR }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "R8",
    why: "the target page's PAMT entry is locked",
    setup: (m) => {
      const pa = m.page();
      m.hold(lockKey.page(pa), "shared");
      return add(m, { target_page_pa: pa });
    },
  },
  {
    status: "TDX_PAGE_METADATA_INCORRECT",
    operand: "R8",
    why: "the target page already belongs to the TD",
    setup: (m) => add(m, { target_page_pa: m.pageAdd(GPA + 0x1000n) }),
  },
]);
