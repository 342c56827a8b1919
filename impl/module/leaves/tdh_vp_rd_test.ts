import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { FIELD_ID_NA } from "../metadata.ts";
import {
  blockTd,
  dropTdcsPages,
  fatalWorld,
  fieldId,
  opStateLock,
  runToFatal,
  withIdFields,
} from "../testing/td_rows.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";

const LEAF = "TDH.VP.RD";
const one = { vcpus: [{}] };
const call = (
  w: TdWorld,
  field: bigint,
  o: { tdvpr?: bigint; version?: number; lp?: number } = {},
) => ({
  inputs: { tdvpr_pa: o.tdvpr ?? w.vcpu, field_id: field },
  version: o.version ?? 1,
  lp: o.lp ?? 0,
});
const index = (w: TdWorld) => fieldId(w, "vcpu", "VCPU_INDEX");

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "VCPU_INDEX of the second vCPU",
    world: { vcpus: [{}, {}] },
    setup: (w) => call(w, index(w), { tdvpr: w.vcpus[1] }),
    then: (_w, r) => {
      assert.equal(r.out.value, 1n);
      assert.notEqual(r.out.next_field_id, FIELD_ID_NA);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a flushed vCPU is associated with the reading LP",
    world: one,
    setup: (w) => {
      w.ok("TDH.VP.FLUSH", { tdvpr_pa: w.vcpu });
      return call(w, index(w), { lp: 3 });
    },
    then: (w) => assert.equal(w.vcpuState().associatedLp, 3),
  },
  {
    status: "TDX_SUCCESS",
    why: "a guest GPR of a debug TD (RSI = VCPU_INDEX after TDH.VP.INIT)",
    world: { td: { debug: true }, vcpus: [{}, {}] },
    setup: (w) => call(w, fieldId(w, "vcpu", "RSI"), { tdvpr: w.vcpus[1] }),
    then: (_w, r) => assert.equal(r.out.value, 1n),
  },
  {
    status: "TDX_SUCCESS",
    why: "a vCPU disabled by a non-recoverable exit can still be read",
    world: { vcpus: [{}], finalize: true },
    setup: (w) => {
      // No guest software: the vCPU shuts down on entry.
      assert.equal(w.enter().name, "TDX_NON_RECOVERABLE_VCPU");
      return call(w, index(w));
    },
  },
  {
    status: "TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT",
    why: "version 1 with -1 asks for the first readable field",
    world: one,
    setup: (w) => call(w, FIELD_ID_NA),
    then: (_w, r) => assert.notEqual(r.out.next_field_id, FIELD_ID_NA),
  },
  ...dispatcherRows(LEAF, (w) => call(w, 0n, { tdvpr: w.page() })),
  ...hpaRows({
    operand: "RCX",
    what: "TDVPR",
    world: one,
    call: (w, pa) => call(w, index(w), { tdvpr: pa }),
    page: (w) => w.vcpu,
    wrongPage: (w) => w.td.tdr,
    lock: "shared",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_OPERAND_BUSY",
    operand: "TDR",
    why: "the owner TDR is locked exclusively",
    world: one,
    setup: (w) => {
      w.hold(lockKey.page(w.td.tdr));
      return call(w, index(w));
    },
  },
  {
    status: "TDX_TD_FATAL",
    why: "a non-recoverable TD exit made the TD fatal",
    world: fatalWorld,
    setup: (w) => {
      runToFatal(w);
      return call(w, index(w));
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "the TD was blocked by TDH.MNG.VPFLUSHDONE",
    world: one,
    setup: (w) => {
      w.ok("TDH.VP.FLUSH", { tdvpr_pa: w.vcpu });
      blockTd(w);
      return call(w, index(w));
    },
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "fewer TDCS pages than the minimum (injected)",
    world: one,
    setup: (w) => {
      dropTdcsPages(w);
      return call(w, index(w));
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "the OP_STATE lock is held exclusively",
    world: one,
    setup: (w) => {
      w.hold(opStateLock(w));
      return call(w, index(w));
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "operation state UNINITIALIZED (injected: a TD with vCPUs is never uninitialised)",
    world: one,
    setup: (w) => {
      w.tdState.opState = "OP_STATE_UNINITIALIZED";
      return call(w, index(w));
    },
  },
  {
    status: "TDX_TDCX_NUM_INCORRECT",
    why: "a created vCPU with only its TDVPR",
    world: { vcpus: [{ init: false, tdvpsPages: 1 }] },
    setup: (w) => call(w, index(w)),
  },
  {
    status: "TDX_VCPU_STATE_INCORRECT",
    why: "created but not initialised",
    world: { vcpus: [{ init: false }] },
    setup: (w) => call(w, index(w)),
  },
  {
    status: "TDX_VCPU_ASSOCIATED",
    why: "associated with LP 0, read on LP 1",
    world: one,
    setup: (w) => call(w, index(w), { lp: 1 }),
  },
  {
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
    why: "LAST_ELEMENT_IN_FIELD not 0",
    world: one,
    setup: (w) => call(w, withIdFields(w, index(w), { LAST_ELEMENT_IN_FIELD: 1n })),
  },
  {
    status: "TDX_METADATA_FIELD_NOT_READABLE",
    why: "a guest GPR of a non-debug TD",
    world: one,
    setup: (w) => call(w, fieldId(w, "vcpu", "RAX")),
  },
]);
