import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { enterEpoch } from "../tlb_tracking.ts";
import {
  type LeafCall,
  type MemoryTd,
  statusTests,
  tdGateRows,
} from "../testing/memory_fixture.ts";

const LEAF = "TDH.MEM.TRACK";

function track(m: MemoryTd): LeafCall {
  return { inputs: { tdr_pa: m.tdr } };
}

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the TD epoch moves on by one",
    setup: (m) => {
      (m as MemoryTd & { e?: bigint }).e = m.td.epoch;
      return track(m);
    },
    then: (m) => assert.equal(m.td.epoch, (m as MemoryTd & { e?: bigint }).e! + 1n),
  },
  ...tdGateRows({
    tdrInput: "tdr_pa",
    tdrOperand: "RCX",
    inputs: (_m, tdr) => ({ inputs: { tdr_pa: tdr } }),
  }),
  {
    status: "TDX_OPERAND_BUSY",
    operand: "TD_EPOCH",
    why: "another TDH.MEM.TRACK holds the epoch lock",
    setup: (m) => {
      m.hold(lockKey.tdEpoch(m.tdr));
      return track(m);
    },
  },
  {
    status: "TDX_PREVIOUS_TLB_EPOCH_BUSY",
    why: "a vCPU entered in the epoch before the current one is still in the TD",
    td: { stage: "runnable" },
    setup: (m) => {
      enterEpoch(m.td); // a vCPU running on another logical processor
      m.track();
      return track(m);
    },
  },
]);
