import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
  writeBackCaches,
} from "../testing/td_status_table.ts";

const LEAF = "TDH.MNG.KEY.FREEID";
const call = (w: TdWorld, tdr = w.td.tdr) => ({ inputs: { tdr_pa: tdr } });
const blocked = (w: TdWorld) => w.ok("TDH.MNG.VPFLUSHDONE", { tdr_pa: w.td.tdr });

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "blocked and caches written back on every package",
    setup: (w) => {
      blocked(w);
      writeBackCaches(w);
      return call(w);
    },
    then: (w) => {
      assert.equal(w.tdState.lifecycle, "TD_TEARDOWN");
      assert.equal(w.state.kot.get(w.td.hkid) ?? "HKID_FREE", "HKID_FREE");
      // The HKID can be given to a new TD.
      const again = w.p.createTd({ stage: "created", hkid: w.td.hkid });
      assert.equal(again.hkid, w.td.hkid);
    },
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
    status: "TDX_LIFECYCLE_STATE_INCORRECT",
    why: "TDH.MNG.VPFLUSHDONE not done",
    setup: (w) => call(w),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "KOT",
    why: "the KOT is locked by another operation",
    setup: (w) => {
      blocked(w);
      writeBackCaches(w);
      w.hold(lockKey.kot());
      return call(w);
    },
  },
  {
    status: "TDX_WBCACHE_NOT_COMPLETE",
    why: "TDH.PHYMEM.CACHE.WB has not run since the HKID was flushed",
    setup: (w) => {
      blocked(w);
      return call(w);
    },
  },
]);
