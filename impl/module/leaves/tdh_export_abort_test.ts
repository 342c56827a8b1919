import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import {
  tdrGateRows,
  tdStatusTests,
  type TdWorld,
  type WorldOptions,
} from "../testing/td_status_table.ts";
import { migLockKey, migrationOf } from "../migration/session.ts";
import {
  addStreams,
  importInputs,
  importTd,
  mbmdOperand,
  migratableAttributes,
  startExport,
} from "../migration/migration_fixture.ts";

const LEAF = "TDH.EXPORT.ABORT";
const SPEC = new Platform().spec;
const runnable: WorldOptions = {
  td: { attributes: migratableAttributes(SPEC) },
  vcpus: [{}],
  finalize: true,
};

/** This world's TD exporting to a destination TD on the same platform. */
function exporting(w: TdWorld) {
  addStreams(w.p, w.td.tdr);
  const dst = importTd(w.p);
  const ex = startExport(w.p, w.td.tdr, dst.tdr);
  return { dst, ex };
}
const preCopy = (w: TdWorld) => {
  exporting(w);
  return { inputs: { tdr_pa: w.td.tdr, mbmd_hpa_and_size: 0n, migs_index: 0n } };
};

/**
 * The destination imports the immutable state, then aborts and writes its abort token;
 * the source is put in POST_EXPORT (injected: TDH.EXPORT.TRACK is not modelled yet).
 */
function postCopyWithToken(w: TdWorld) {
  const { dst, ex } = exporting(w);
  w.ok("TDH.IMPORT.STATE.IMMUTABLE", importInputs(ex, dst.tdr));
  const token = mbmdOperand(w.p);
  const r = w.call("TDH.IMPORT.ABORT", {
    inputs: { tdr_pa: dst.tdr, mbmd_hpa_and_size: token.operand, migs_index: 0n },
  });
  assert.equal(r.name, "TDX_SUCCESS");
  w.tdState.opState = "OP_STATE_POST_EXPORT";
  return { token, inputs: { tdr_pa: w.td.tdr, mbmd_hpa_and_size: token.operand, migs_index: 0n } };
}

function corrupt(w: TdWorld, pa: bigint, offset: number) {
  const b = w.p.cpu.memory.read(pa + BigInt(offset), 1);
  w.p.cpu.memory.write(pa + BigInt(offset), Uint8Array.of(b[0] ^ 1));
}

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "abort in the pre-copy phase (LIVE_EXPORT)",
    world: runnable,
    setup: preCopy,
    then: (w) => {
      assert.equal(w.tdState.opState, "OP_STATE_RUNNABLE");
      assert.ok(migrationOf(w.tdState).links.every((l) => !l.initialized));
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "abort in POST_EXPORT with the destination's abort token",
    world: runnable,
    setup: (w) => ({ inputs: postCopyWithToken(w).inputs }),
    then: (w) => assert.equal(w.tdState.opState, "OP_STATE_RUNNABLE"),
  },
  ...tdrGateRows(LEAF, {
    operand: "RCX",
    world: runnable,
    lock: "shared",
    live: preCopy,
    opStateHeld: "shared",
  }),
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "no export session (RUNNABLE)",
    world: runnable,
    setup: (w) => ({ inputs: { tdr_pa: w.td.tdr } }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "MIG",
    why: "another migration operation holds the migration lock",
    world: runnable,
    setup: (w) => {
      const c = preCopy(w);
      w.hold(migLockKey.mig(w.td.tdr), "shared");
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "stream index 1",
    world: runnable,
    setup: (w) => ({ inputs: { ...preCopy(w).inputs, migs_index: 1n } }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "pre-copy: R8 is not 0",
    world: runnable,
    setup: (w) => ({
      inputs: { ...preCopy(w).inputs, mbmd_hpa_and_size: mbmdOperand(w.p).operand },
    }),
    then: (w) => assert.equal(w.tdState.opState, "OP_STATE_LIVE_EXPORT"),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "POST_EXPORT: the token buffer is smaller than an MBMD",
    world: runnable,
    setup: (w) => {
      const t = postCopyWithToken(w);
      return { inputs: { ...t.inputs, mbmd_hpa_and_size: t.token.pa | (47n << 52n) } };
    },
  },
  {
    status: "TDX_INVALID_MBMD",
    why: "POST_EXPORT: the token's MB_TYPE is not ABORT_TOKEN",
    world: runnable,
    setup: (w) => {
      const t = postCopyWithToken(w);
      w.p.cpu.memory.write(t.token.pa + 6n, Uint8Array.of(0x20));
      return { inputs: t.inputs };
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "MIGSC",
    why: "POST_EXPORT: another operation holds the backward stream",
    world: runnable,
    setup: (w) => {
      const t = postCopyWithToken(w);
      w.hold(migLockKey.migsc(w.td.tdr, 0));
      return { inputs: t.inputs };
    },
  },
  {
    status: "TDX_INCORRECT_MBMD_MAC",
    why: "POST_EXPORT: the token's MAC does not verify",
    world: runnable,
    setup: (w) => {
      const t = postCopyWithToken(w);
      corrupt(w, t.token.pa, 40);
      return { inputs: t.inputs };
    },
    then: (w) => assert.equal(w.tdState.opState, "OP_STATE_POST_EXPORT"),
  },
]);
