import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";
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
  ...dispatcherRows(LEAF, (w) => ({ inputs: { tdr_pa: w.td.tdr } })),
  ...hpaRows({
    operand: "RCX",
    what: "TDR",
    world: tdcs,
    call: (_w, pa) => ({ inputs: { tdr_pa: pa } }),
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.page(),
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_TD_FATAL",
    why: "the TD is marked fatal (injected)",
    world: tdcs,
    setup: (w) => {
      const c = postImport(w);
      w.tdState.fatal = true;
      return c;
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "TDH.MNG.KEY.CONFIG not done",
    world: { td: { stage: "created" } },
    setup: (w) => ({ inputs: { tdr_pa: w.td.tdr } }),
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "no TDCS page",
    world: { td: { stage: "keys" } },
    setup: (w) => ({ inputs: { tdr_pa: w.td.tdr } }),
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "the import is in its in-order phase (MEMORY_IMPORT)",
    world: tdcs,
    setup: (w) => postImport(w, "OP_STATE_MEMORY_IMPORT"),
  },
]);
