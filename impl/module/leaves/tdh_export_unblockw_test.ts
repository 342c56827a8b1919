import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { Platform } from "../testing/fixture.ts";
import {
  tdrGateRows,
  tdStatusTests,
  type TdWorld,
  type WorldOptions,
} from "../testing/td_status_table.ts";
import { gpaAndLevel } from "../testing/td_fixture.ts";
import { entryAt, entryLockKey, septGeometry } from "../sept.ts";
import { migrationOf } from "../migration/session.ts";
import {
  EXPORT_GPAS,
  gpaList,
  liveExportWithPages,
  migratableAttributes,
} from "../migration/migration_fixture.ts";

const LEAF = "TDH.EXPORT.UNBLOCKW";
const SPEC = new Platform().spec;
const built: WorldOptions = { td: { attributes: migratableAttributes(SPEC) }, vcpus: [{}] };

/** An export session with both pages write-blocked: the call for the first one. */
function blocked(w: TdWorld, gpa = EXPORT_GPAS[0], level = 0) {
  liveExportWithPages(w.p, w.td);
  const l = gpaList(w.p, EXPORT_GPAS.slice(0, 2));
  w.ok("TDH.EXPORT.BLOCKW", { gpa_list_info: l.info, tdr_pa: w.td.tdr });
  return { inputs: { gpa_and_level: gpaAndLevel(w.p, gpa, level), tdr_pa: w.td.tdr } };
}

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a BLOCKEDW page is MAPPED again",
    world: built,
    setup: (w) => blocked(w),
    then: (w) => {
      assert.equal(entryAt(w.tdState, 0, EXPORT_GPAS[0]).state, "MAPPED");
      assert.equal(entryAt(w.tdState, 0, EXPORT_GPAS[1]).state, "BLOCKEDW");
    },
  },
  {
    status: "TDX_SUCCESS",
    why:
      "an exported clean page (EXPORTED_BLOCKEDW, injected) becomes EXPORTED_DIRTY and counts as dirty",
    world: built,
    setup: (w) => {
      const c = blocked(w);
      const e = entryAt(w.tdState, 0, EXPORT_GPAS[0]);
      e.state = "EXPORTED_BLOCKEDW";
      return c;
    },
    then: (w) => {
      assert.equal(entryAt(w.tdState, 0, EXPORT_GPAS[0]).state, "EXPORTED_DIRTY");
      assert.equal(migrationOf(w.tdState).dirtyCount, 1n);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "after the export was aborted (RUNNABLE): the block is undone",
    world: built,
    setup: (w) => {
      const c = blocked(w);
      w.ok("TDH.EXPORT.ABORT", { tdr_pa: w.td.tdr, mbmd_hpa_and_size: 0n, migs_index: 0n });
      return c;
    },
    then: (w) => assert.equal(entryAt(w.tdState, 0, EXPORT_GPAS[0]).state, "MAPPED"),
  },
  ...tdrGateRows(LEAF, {
    operand: "RDX",
    world: built,
    lock: "shared",
    live: blocked,
    opStateHeld: "exclusive",
  }),
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "the TD is not finalized (INITIALIZED)",
    world: built,
    setup: (w) => ({ inputs: { tdr_pa: w.td.tdr } }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "level 1 (only 4 KiB pages are write-blocked)",
    world: built,
    setup: (w) => blocked(w, 0x1000_0000n, 1),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA",
    world: built,
    setup: (w) => {
      const c = blocked(w);
      const shared = septGeometry(w.spec, w.tdState).sharedBit | EXPORT_GPAS[0];
      return { inputs: { ...c.inputs, gpa_and_level: gpaAndLevel(w.p, shared, 0) } };
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "another operation holds the Secure EPT tree exclusively",
    world: built,
    setup: (w) => {
      const c = blocked(w);
      w.hold(lockKey.septTree(w.td.tdr));
      return c;
    },
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "RCX",
    why: "no Secure EPT page maps the GPA's range",
    world: built,
    setup: (w) => blocked(w, 0x2000_0000n),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "another operation holds the page's Secure EPT entry",
    world: built,
    setup: (w) => {
      const c = blocked(w);
      w.hold(entryLockKey(w.tdState, EXPORT_GPAS[0], 0));
      return c;
    },
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "RCX",
    why: "the page is not write-blocked (FREE)",
    world: built,
    setup: (w) => blocked(w, EXPORT_GPAS[2]),
  },
]);
