import { strict as assert } from "node:assert";
import { tdrGateRows, tdStatusTests, type TdWorld } from "../testing/td_status_table.ts";
import { addStreams, runnableMigratableTd, startImport } from "../migration/migration_fixture.ts";
import { catalog } from "../metadata.ts";

const LEAF = "TDH.IMPORT.COMMIT";
const tdcs = { td: { stage: "tdcs" as const } };

/**
 * This world's TD imported a source's immutable state, then reached POST_IMPORT
 * (injected: TDH.IMPORT.STATE.VP, which brings the vCPUs over first, is not modelled yet).
 */
function postImport(w: TdWorld, state = "OP_STATE_POST_IMPORT") {
  addStreams(w.p, w.td.tdr);
  startImport(w.p, runnableMigratableTd(w.p).tdr, w.td.tdr);
  w.tdState.opState = state;
  return { inputs: { tdr_pa: w.td.tdr } };
}
const importCount = (w: TdWorld) =>
  w.tdState.fields.get(catalog(w.spec).field("td", "IMPORT_COUNT").baseId) ?? 0n;

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the post-copy import is committed: LIVE_IMPORT, IMPORT_COUNT 1",
    world: tdcs,
    setup: (w) => postImport(w),
    then: (w) => {
      assert.equal(w.tdState.opState, "OP_STATE_LIVE_IMPORT");
      assert.equal(importCount(w), 1n);
    },
  },
  ...tdrGateRows(LEAF, {
    operand: "RCX",
    world: tdcs,
    lock: "exclusive",
    live: postImport,
  }),
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "the import is still in its in-order phase (MEMORY_IMPORT)",
    world: tdcs,
    setup: (w) => postImport(w, "OP_STATE_MEMORY_IMPORT"),
    then: (w) => assert.equal(importCount(w), 0n),
  },
]);
