import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { entryAt, setState } from "../sept.ts";
import {
  assertReported,
  GPA,
  type LeafCall,
  type MemoryTd,
  statusTests,
  tdGateRows,
} from "../testing/memory_fixture.ts";

const LEAF = "TDH.MEM.WR";
const OLD = new Uint8Array(4096).fill(0x5A);

function wr(m: MemoryTd, over: Partial<Record<string, bigint>> = {}): LeafCall {
  return { inputs: { gpa: GPA + 0x40n, tdr_pa: m.tdr, data: 0xDEAD_BEEFn, ...over } };
}

const debug = { debug: true };

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the word is written under the TD's key; R8 has the old one",
    td: debug,
    setup: (m) => {
      m.pageAdd(GPA, OLD);
      return wr(m);
    },
    then: (m, r) => {
      assert.equal(r.out.old_data, 0x5A5A_5A5A_5A5A_5A5An);
      const mem = m.p.cpu.memory;
      const hpa = entryAt(m.td, 0, GPA).hpa;
      const word = mem.read(mem.withKeyId(hpa + 0x40n, m.hkid), 8);
      assert.equal(new DataView(word.buffer).getBigUint64(0, true), 0xDEAD_BEEFn);
      const back = m.call("TDH.MEM.RD", { gpa: GPA + 0x40n, tdr_pa: m.tdr });
      assert.equal(back.out.data, 0xDEAD_BEEFn);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a word inside a 2 MiB page that the guest accepted",
    td: debug,
    setup: (m) => {
      m.aug(GPA, 1);
      setState(m.td, GPA, 1, "MAPPED"); // as TDG.MEM.PAGE.ACCEPT leaves it
      return wr(m, { gpa: GPA + 0x12_3400n });
    },
    then: (m) => {
      const back = m.call("TDH.MEM.RD", { gpa: GPA + 0x12_3400n, tdr_pa: m.tdr });
      assert.equal(back.out.data, 0xDEAD_BEEFn);
    },
  },
  ...tdGateRows({
    tdrInput: "tdr_pa",
    tdrOperand: "RDX",
    inputs: (m, tdr) => wr(m, { tdr_pa: tdr }),
  }),
  {
    status: "TDX_TD_NON_DEBUG",
    why: "ATTRIBUTES.DEBUG is 0",
    setup: (m) => {
      m.pageAdd(GPA, OLD);
      return wr(m);
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "the GPA is not 8-byte aligned",
    td: debug,
    setup: (m) => wr(m, { gpa: GPA + 1n }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "the SEPT tree is held exclusively",
    td: debug,
    setup: (m) => {
      m.hold(lockKey.septTree(m.tdr));
      return wr(m);
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "bits above GPAW 48",
    td: debug,
    setup: (m) => wr(m, { gpa: 1n << 48n }),
  },
  {
    status: "TDX_EPT_ENTRY_NOT_PRESENT",
    operand: "RCX",
    why: "nothing mapped",
    td: debug,
    setup: (m) => wr(m),
    then: (m, r) => assertReported(m, r, 3, "FREE"),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the leaf is locked",
    td: debug,
    setup: (m) => {
      m.pageAdd(GPA);
      m.holdSeptEntry(GPA, 0);
      return wr(m);
    },
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "a write-blocked page (BLOCKEDW, as TDH.EXPORT.BLOCKW leaves it) is readable only",
    td: debug,
    setup: (m) => {
      m.pageAdd(GPA);
      setState(m.td, GPA, 0, "BLOCKEDW");
      return wr(m);
    },
    then: (m, r) => assertReported(m, r, 0, "BLOCKEDW"),
  },
]);
