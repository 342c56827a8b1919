import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import {
  tdrGateRows,
  tdStatusTests,
  type TdWorld,
  type WorldOptions,
} from "../testing/td_status_table.ts";
import {
  addStreams,
  importTd,
  migratableAttributes,
  startExport,
} from "../migration/migration_fixture.ts";

const LEAF = "TDH.EXPORT.PAUSE";
const SPEC = new Platform().spec;
const runnable: WorldOptions = {
  td: { attributes: migratableAttributes(SPEC) },
  vcpus: [{}],
  finalize: true,
};
function live(w: TdWorld) {
  addStreams(w.p, w.td.tdr);
  startExport(w.p, w.td.tdr, importTd(w.p).tdr);
  return { inputs: { tdr_pa: w.td.tdr } };
}

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the live export phase ends: PAUSED_EXPORT, the TLB epoch advances",
    world: runnable,
    setup: (w) => {
      const c = live(w);
      (w as unknown as { epoch: bigint }).epoch = w.tdState.epoch;
      return c;
    },
    then: (w) => {
      assert.equal(w.tdState.opState, "OP_STATE_PAUSED_EXPORT");
      assert.equal(w.tdState.epoch, (w as unknown as { epoch: bigint }).epoch + 1n);
    },
  },
  ...tdrGateRows(LEAF, {
    operand: "RCX",
    world: runnable,
    lock: "exclusive",
    live: live,
  }),
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "no export session (RUNNABLE)",
    world: runnable,
    setup: (w) => ({ inputs: { tdr_pa: w.td.tdr } }),
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "already paused",
    world: runnable,
    setup: (w) => {
      const c = live(w);
      w.ok(LEAF, c.inputs);
      return c;
    },
  },
]);
