import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { tdxLimit } from "../td_limits.ts";
import { blockTd, dropTdcsPages, opStateLock } from "../testing/td_rows.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";

const LEAF = "TDH.VP.INIT";
/** A created vCPU with all its TDVPS pages. */
const ready = { vcpus: [{ init: false }] };
const call = (w: TdWorld, tdvpr = w.vcpu, o: { lp?: number; version?: number } = {}) => ({
  inputs: { tdvpr_pa: tdvpr, initial_rcx: 0x1234n, x2apic_id: 7n },
  version: o.version ?? 1,
  lp: o.lp ?? 0,
});

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "version 1: the vCPU's reset state, index and x2APIC ID",
    world: ready,
    setup: (w) => call(w, w.vcpu, { lp: 2 }),
    then: (w) => {
      const v = w.vcpuState();
      assert.equal(v.state, "initialized");
      assert.equal(v.index, 0);
      assert.equal(v.associatedLp, 2);
      assert.equal(v.x2apicId, 7n);
      assert.equal(v.lastTdExit, "LAST_EXIT_ASYNC_FAULT");
      assert.equal(v.gprs.get("RCX"), 0x1234n);
      assert.equal(v.gprs.get("R8"), 0x1234n);
      assert.equal(v.gprs.get("RSI"), 0n);
      assert.equal(v.gprs.get("RBX"), tdxLimit(w.spec, "MAX_PA_FOR_GPA_NOT_WIDE"));
      assert.equal(v.gprs.get("RDX"), BigInt(w.state.platform.sampled!.platformFms));
      assert.equal(w.tdState.numVcpus, 1);
      assert.ok(w.tdState.vcpusAssociated.has(w.vcpu));
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "version 0, second vCPU: index 1",
    world: { vcpus: [{}, { init: false }] },
    setup: (w) => call(w, w.vcpus[1], { version: 0 }),
    then: (w) => {
      const v = w.vcpuState(w.vcpus[1]);
      assert.equal(v.index, 1);
      assert.equal(v.gprs.get("RSI"), 1n);
      assert.equal(v.x2apicId, undefined);
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w, w.page())),
  ...hpaRows({
    operand: "RCX",
    what: "TDVPR",
    world: ready,
    call: (w, pa) => call(w, pa),
    page: (w) => w.vcpu,
    wrongPage: (w) => w.td.tdr,
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_OPERAND_BUSY",
    operand: "TDR",
    why: "the owner TDR is locked exclusively",
    world: ready,
    setup: (w) => {
      w.hold(lockKey.page(w.td.tdr));
      return call(w);
    },
  },
  {
    status: "TDX_TD_FATAL",
    why: "the TD is marked fatal (injected: a TD being built never ran)",
    world: ready,
    setup: (w) => {
      w.tdState.fatal = true;
      return call(w);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "the TD was blocked by TDH.MNG.VPFLUSHDONE",
    world: ready,
    setup: (w) => {
      blockTd(w);
      return call(w);
    },
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "fewer TDCS pages than the minimum (injected)",
    world: ready,
    setup: (w) => {
      dropTdcsPages(w);
      return call(w);
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "the OP_STATE lock is held exclusively",
    world: ready,
    setup: (w) => {
      w.hold(opStateLock(w));
      return call(w);
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "after TDH.MR.FINALIZE",
    world: { vcpus: [{ init: false }, {}], finalize: true },
    setup: (w) => call(w),
  },
  {
    status: "TDX_TDCX_NUM_INCORRECT",
    why: "one TDVPS page short",
    world: { vcpus: [{ init: false, tdvpsPages: 5 }] },
    setup: (w) => call(w),
  },
  {
    status: "TDX_VCPU_STATE_INCORRECT",
    why: "already initialised",
    world: { vcpus: [{}] },
    setup: (w) => call(w),
  },
  {
    status: "TDX_MAX_VCPUS_EXCEEDED",
    why: "MAX_VCPUS 1 and one vCPU already initialised",
    world: { td: { maxVcpus: 1 }, vcpus: [{}, { init: false }] },
    setup: (w) => call(w, w.vcpus[1]),
    then: (w) => assert.equal(w.tdState.numVcpus, 1),
  },
  {
    status: "TDX_INCONSISTENT_MSR",
    detail: (w) => w.p.cpu.msrs.index("IA32_TSC_ADJUST"),
    why: "IA32_TSC_ADJUST changed on this LP; the index is consumed anyway",
    world: ready,
    setup: (w) => {
      w.p.cpu.setLpMsr(0, "IA32_TSC_ADJUST", 1n);
      return call(w);
    },
    then: (w) => {
      assert.equal(w.tdState.numVcpus, 1);
      assert.equal(w.vcpuState().state, "created");
    },
  },
]);
