import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { setState } from "../sept.ts";
import { septRace } from "../sept_steps.ts";
import {
  assertReported,
  GPA,
  type LeafCall,
  type MemoryTd,
  statusTests,
  tdGateRows,
} from "../testing/memory_fixture.ts";

const LEAF = "TDH.MEM.RD";
const WORDS = new Uint8Array(4096);
new DataView(WORDS.buffer).setBigUint64(0x18, 0x1122_3344_5566_7788n, true);

function rd(m: MemoryTd, over: Partial<Record<string, bigint>> = {}): LeafCall {
  return { inputs: { gpa: GPA + 0x18n, tdr_pa: m.tdr, ...over } };
}

const debug = { debug: true };

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a debug TD's word, read through the TD's key",
    td: debug,
    setup: (m) => {
      m.pageAdd(GPA, WORDS);
      return rd(m);
    },
    then: (_m, r) => assert.equal(r.out.data, 0x1122_3344_5566_7788n),
  },
  ...tdGateRows({
    tdrInput: "tdr_pa",
    tdrOperand: "RDX",
    inputs: (m, tdr) => rd(m, { tdr_pa: tdr }),
  }),
  {
    status: "TDX_TD_NON_DEBUG",
    why: "ATTRIBUTES.DEBUG is 0",
    setup: (m) => {
      m.pageAdd(GPA, WORDS);
      return rd(m);
    },
    then: (_m, r) => assert.equal(r.out.data, 0n),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "the GPA is not 8-byte aligned",
    td: debug,
    setup: (m) => rd(m, { gpa: GPA + 4n }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "the SEPT tree is held exclusively",
    td: debug,
    setup: (m) => {
      m.hold(lockKey.septTree(m.tdr));
      return rd(m);
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA",
    td: debug,
    setup: (m) => rd(m, { gpa: GPA | (1n << 47n) }),
  },
  {
    status: "TDX_EPT_ENTRY_NOT_PRESENT",
    operand: "RCX",
    why: "a PENDING page grants no access",
    td: debug,
    setup: (m) => {
      m.aug(GPA);
      return rd(m);
    },
    then: (m, r) => assertReported(m, r, 0, "PENDING"),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the leaf is locked",
    td: debug,
    setup: (m) => {
      m.pageAdd(GPA);
      m.holdSeptEntry(GPA, 0);
      return rd(m);
    },
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "another LP blocks the page between the walk and the entry lock",
    td: debug,
    setup: (m) => {
      m.pageAdd(GPA);
      septRace.hook = (td, gpa, level) => setState(td, gpa, level, "BLOCKED");
      return rd(m);
    },
    after: () => {
      septRace.hook = undefined;
    },
    then: (m, r) => assertReported(m, r, 0, "BLOCKED"),
  },
]);
