import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";

const LEAF = "TDH.MNG.VPFLUSHDONE";
const call = (w: TdWorld, tdr = w.td.tdr, lp = 0) => ({ inputs: { tdr_pa: tdr }, lp });

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a TD whose vCPUs were all flushed",
    world: { vcpus: [{}], finalize: true },
    setup: (w) => {
      w.ok("TDH.VP.FLUSH", { tdvpr_pa: w.vcpu });
      return call(w);
    },
    then: (w) => {
      assert.equal(w.tdState.lifecycle, "TD_BLOCKED");
      assert.equal(w.state.kot.get(w.td.hkid), "HKID_FLUSHED");
      assert.equal(w.state.kotWbinvdPending.get(w.td.hkid)?.size, w.p.cpu.platform.packages);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a TD that never got its keys configured",
    world: { td: { stage: "created" } },
    setup: (w) => call(w),
    then: (w) => assert.equal(w.tdState.lifecycle, "TD_BLOCKED"),
  },
  ...dispatcherRows(LEAF, (w) => call(w)),
  ...hpaRows({
    operand: "RCX",
    what: "TDR",
    call: (w, pa) => call(w, pa),
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.td.tdcx[0],
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_OPERAND_BUSY",
    operand: "KOT",
    why: "the KOT is locked by another operation",
    setup: (w) => {
      w.hold(lockKey.kot());
      return call(w);
    },
  },
  {
    status: "TDX_LIFECYCLE_STATE_INCORRECT",
    why: "already blocked",
    setup: (w) => {
      w.ok(LEAF, { tdr_pa: w.td.tdr });
      return call(w);
    },
  },
  {
    status: "TDX_FLUSHVP_NOT_DONE",
    why: "a vCPU is still associated with an LP",
    world: { vcpus: [{}] },
    setup: (w) => call(w),
    then: (w) => assert.equal(w.tdState.lifecycle, "TD_KEYS_CONFIGURED"),
  },
]);
