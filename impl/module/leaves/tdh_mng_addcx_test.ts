import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";
import { tdxLimitN } from "../td_limits.ts";

const LEAF = "TDH.MNG.ADDCX";
const keys = { td: { stage: "keys" as const } };
const call = (w: TdWorld, tdr = w.td.tdr, tdcx = w.page()) => ({
  inputs: { tdcx_pa: tdcx, tdr_pa: tdr },
});
function add(w: TdWorld, n: number): void {
  for (let i = 0; i < n; i++) w.ok(LEAF, { tdcx_pa: w.page(), tdr_pa: w.td.tdr });
}

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the first TDCS page",
    world: keys,
    setup: (w) => call(w),
    then: (w, r) => {
      void r;
      const td = w.tdState;
      assert.equal(td.tdcx.length, 1);
      assert.deepEqual(w.state.pamt.get(td.tdcx[0]), {
        pageType: "PT_TDCX",
        owner: w.td.tdr,
        level: 0,
      });
      assert.equal(td.childCount, 1);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "the MSR-bitmap page is all ones under the TD's key",
    world: keys,
    setup: (w) => {
      add(w, tdxLimitN(w.spec, "MSR_BITMAPS_PAGE_INDEX"));
      return call(w);
    },
    then: (w) => {
      const page = w.tdState.tdcx[tdxLimitN(w.spec, "MSR_BITMAPS_PAGE_INDEX")];
      const mem = w.p.cpu.memory;
      assert.ok(mem.read(mem.withKeyId(page, w.td.hkid), 4096).every((b) => b === 0xFF));
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w)),
  ...hpaRows({
    operand: "RDX",
    what: "TDR",
    world: keys,
    call: (w, pa) => call(w, pa),
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.page(),
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_TD_FATAL",
    why: "the TD is marked fatal (injected: a TD being built never ran)",
    world: keys,
    setup: (w) => {
      w.tdState.fatal = true;
      return call(w);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "TDH.MNG.KEY.CONFIG not done",
    world: { td: { stage: "created" } },
    setup: (w) => call(w),
  },
  {
    status: "TDX_TDCX_NUM_INCORRECT",
    why: "the TD already has the most TDCS pages",
    world: keys,
    setup: (w) => {
      add(w, tdxLimitN(w.spec, "MAX_NUM_TDCS_PAGES"));
      return call(w);
    },
  },
  ...hpaRows({
    operand: "RCX",
    what: "new TDCS",
    world: keys,
    call: (w, pa) => call(w, w.td.tdr, pa),
    page: (w) => w.page(),
    wrongPage: (w) => w.p.createTd({ stage: "created" }).tdr,
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_RND_NO_ENTROPY",
    why: "the page completing the minimum TDCS needs a random migration key",
    world: keys,
    setup: (w) => {
      add(w, tdxLimitN(w.spec, "MIN_NUM_TDCS_PAGES") - 1);
      w.p.cpu.blockRng(true);
      return call(w);
    },
    then: (w) => assert.equal(w.tdState.tdcx.length, tdxLimitN(w.spec, "MIN_NUM_TDCS_PAGES") - 1),
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "a page after TDH.MNG.INIT",
    setup: (w) => call(w),
  },
]);
