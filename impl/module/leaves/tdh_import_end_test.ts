import { strict as assert } from "node:assert";
import { tdrGateRows, tdStatusTests, type TdWorld } from "../testing/td_status_table.ts";
import { addStreams, runnableMigratableTd, startImport } from "../migration/migration_fixture.ts";
import { catalog } from "../metadata.ts";

const LEAF = "TDH.IMPORT.END";
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
    why: "the import ends from POST_IMPORT: RUNNABLE, IMPORT_COUNT 1",
    world: tdcs,
    setup: (w) => postImport(w),
    then: (w) => {
      assert.equal(w.tdState.opState, "OP_STATE_RUNNABLE");
      assert.equal(importCount(w), 1n);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "the import ends after TDH.IMPORT.COMMIT: counted once",
    world: tdcs,
    setup: (w) => {
      const c = postImport(w);
      w.ok("TDH.IMPORT.COMMIT", c.inputs);
      return c;
    },
    then: (w) => {
      assert.equal(w.tdState.opState, "OP_STATE_RUNNABLE");
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
    why: "the import is in its in-order phase (MEMORY_IMPORT)",
    world: tdcs,
    setup: (w) => postImport(w, "OP_STATE_MEMORY_IMPORT"),
  },
]);
