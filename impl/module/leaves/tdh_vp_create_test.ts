import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { opStateLock } from "../testing/td_rows.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";

const LEAF = "TDH.VP.CREATE";
const call = (w: TdWorld, tdvpr = w.page(), tdr = w.td.tdr) => ({
  inputs: { tdvpr_pa: tdvpr, tdr_pa: tdr },
});

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a free page for an initialised TD",
    setup: (w) => {
      const c = call(w);
      w.vcpus.push(c.inputs.tdvpr_pa);
      return c;
    },
    then: (w) => {
      const v = w.vcpuState();
      assert.equal(v.state, "created");
      assert.equal(v.associatedLp, undefined);
      assert.deepEqual(w.state.pamt.get(w.vcpu), {
        pageType: "PT_TDVPR",
        owner: w.td.tdr,
        level: 0,
      });
      assert.equal(w.tdState.childCount, 7);
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w)),
  ...hpaRows({
    operand: "RDX",
    what: "TDR",
    call: (w, pa) => call(w, w.page(), pa),
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.td.tdcx[0],
    lock: "shared",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_TD_FATAL",
    why: "the TD is marked fatal (injected: a TD being built never ran)",
    setup: (w) => {
      w.tdState.fatal = true;
      return call(w);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "keys not configured",
    world: { td: { stage: "created" } },
    setup: (w) => call(w),
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "no TDCS pages",
    world: { td: { stage: "keys" } },
    setup: (w) => call(w),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "the OP_STATE lock is held exclusively",
    setup: (w) => {
      w.hold(opStateLock(w));
      return call(w);
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "after TDH.MR.FINALIZE",
    world: { vcpus: [{}], finalize: true },
    setup: (w) => call(w),
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "before TDH.MNG.INIT",
    world: { td: { stage: "tdcs" } },
    setup: (w) => call(w),
  },
  ...hpaRows({
    operand: "RCX",
    what: "TDVPR",
    call: (w, pa) => call(w, pa),
    page: (w) => w.page(),
    wrongPage: (w) => w.td.tdcx[1],
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
]);
