import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";
import { migLockKey, migrationOf } from "../migration/session.ts";
import { migLimitN } from "../migration/limits.ts";
import { tdField } from "../md_fields.ts";

const LEAF = "TDH.MIG.STREAM.CREATE";
const call = (w: TdWorld, tdr = w.td.tdr, migsc = w.page()) => ({
  inputs: { migsc_pa: migsc, tdr_pa: tdr },
});

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the first stream (the backward one) of an initialised TD",
    setup: (w) => call(w),
    then: (w) => {
      const m = migrationOf(w.tdState);
      assert.equal(m.links.length, 1);
      const pa = m.links[0].migsc.pa;
      assert.deepEqual(w.state.pamt.get(pa), { pageType: "PT_TDCX", owner: w.td.tdr, level: 0 });
      assert.equal(m.links[0].initialized, false);
      const mem = w.p.cpu.memory;
      assert.ok(mem.read(mem.withKeyId(pa, w.td.hkid), 4096).every((b) => b === 0));
      const ctx = { spec: w.spec } as Parameters<typeof tdField>[0];
      assert.equal(tdField(ctx, w.tdState, "NUM_MIGS"), 1n);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a TD still UNINITIALIZED (a destination of an import)",
    world: { td: { stage: "tdcs" } },
    setup: (w) => call(w),
  },
  ...dispatcherRows(LEAF, (w) => call(w)),
  ...hpaRows({
    operand: "RDX",
    what: "TDR",
    call: (w, pa) => call(w, pa),
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.page(),
    lock: "shared",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_TD_FATAL",
    why: "the TD is marked fatal (injected)",
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
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "no TDCS page added",
    world: { td: { stage: "keys" } },
    setup: (w) => call(w),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "another operation holds the TDCS OP_STATE lock",
    setup: (w) => {
      w.hold(lockKey.tdcs(w.td.tdr), "shared");
      return call(w);
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "an export session is running (LIVE_EXPORT, injected)",
    setup: (w) => {
      w.tdState.opState = "OP_STATE_LIVE_EXPORT";
      return call(w);
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "MIG",
    why: "another migration operation holds the TD's migration lock",
    setup: (w) => {
      w.hold(migLockKey.mig(w.td.tdr), "shared");
      return call(w);
    },
  },
  {
    status: "TDX_MAX_MIGS_NUM_EXCEEDED",
    why: "the TD already has the most streams (links injected)",
    setup: (w) => {
      const m = migrationOf(w.tdState);
      for (let i = 0; i < migLimitN(w.spec, "MAX_MIGS"); i++) {
        m.links.push({ initialized: false, migsc: {} as never });
      }
      return call(w);
    },
    then: (w) => assert.equal(migrationOf(w.tdState).links.length, migLimitN(w.spec, "MAX_MIGS")),
  },
  ...hpaRows({
    operand: "RCX",
    what: "new MIGSC",
    call: (w, pa) => call(w, w.td.tdr, pa),
    page: (w) => w.page(),
    wrongPage: (w) => w.p.createTd({ stage: "created" }).tdr,
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
]);
