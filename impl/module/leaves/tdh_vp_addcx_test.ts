import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { tdxLimitN } from "../td_limits.ts";
import { blockTd, dropTdcsPages, opStateLock } from "../testing/td_rows.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";

const LEAF = "TDH.VP.ADDCX";
/** A TD with one created (not initialised) vCPU with only its TDVPR. */
const created = { vcpus: [{ init: false, tdvpsPages: 1 }] };
const call = (w: TdWorld, tdcx = w.page(), tdvpr = w.vcpu) => ({
  inputs: { tdcx_pa: tdcx, tdvpr_pa: tdvpr },
});

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a page for a created vCPU",
    world: created,
    setup: (w) => call(w),
    then: (w) => {
      const v = w.vcpuState();
      assert.equal(v.tdcx.length, 1);
      assert.deepEqual(w.state.pamt.get(v.tdcx[0]), {
        pageType: "PT_TDCX",
        owner: w.td.tdr,
        level: 0,
      });
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w, w.page(), w.page())),
  ...hpaRows({
    operand: "RDX",
    what: "TDVPR",
    world: created,
    call: (w, pa) => call(w, w.page(), pa),
    page: (w) => w.vcpu,
    wrongPage: (w) => w.td.tdr,
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_OPERAND_BUSY",
    operand: "TDR",
    why: "the owner TDR is locked exclusively",
    world: created,
    setup: (w) => {
      w.hold(lockKey.page(w.td.tdr));
      return call(w);
    },
  },
  {
    status: "TDX_TD_FATAL",
    why: "the TD is marked fatal (injected: a TD being built never ran)",
    world: created,
    setup: (w) => {
      w.tdState.fatal = true;
      return call(w);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "the TD was blocked by TDH.MNG.VPFLUSHDONE",
    world: created,
    setup: (w) => {
      blockTd(w);
      return call(w);
    },
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "fewer TDCS pages than the minimum (injected)",
    world: created,
    setup: (w) => {
      dropTdcsPages(w);
      return call(w);
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "the OP_STATE lock is held exclusively",
    world: created,
    setup: (w) => {
      w.hold(opStateLock(w));
      return call(w);
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "after TDH.MR.FINALIZE",
    world: { vcpus: [{ init: false, tdvpsPages: 1 }, {}], finalize: true },
    setup: (w) => call(w),
  },
  {
    status: "TDX_VCPU_STATE_INCORRECT",
    why: "the vCPU is initialised",
    world: { vcpus: [{}] },
    setup: (w) => call(w),
  },
  {
    status: "TDX_TDCX_NUM_INCORRECT",
    why: "the vCPU has the most TDVPS pages",
    world: { vcpus: [{ init: false, tdvpsPages: 15 }] },
    setup: (w) => {
      assert.equal(1 + w.vcpuState().tdcx.length, tdxLimitN(w.spec, "MAX_TDVPS_PAGES"));
      return call(w);
    },
  },
  ...hpaRows({
    operand: "RCX",
    what: "new TDVPS",
    world: created,
    call: (w, pa) => call(w, pa),
    page: (w) => w.page(),
    wrongPage: (w) => w.td.tdcx[0],
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
]);
