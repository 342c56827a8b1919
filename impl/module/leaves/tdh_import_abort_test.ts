import { strict as assert } from "node:assert";
import { tdrGateRows, tdStatusTests, type TdWorld } from "../testing/td_status_table.ts";
import { migLockKey, migrationOf } from "../migration/session.ts";
import {
  addStreams,
  mbmdOperand,
  runnableMigratableTd,
  startImport,
} from "../migration/migration_fixture.ts";
import { decodeMbmd, mbmdHeader } from "../migration/mbmd.ts";

const LEAF = "TDH.IMPORT.ABORT";
const tdcs = { td: { stage: "tdcs" as const } };

/** This world's TD has imported a source's immutable state (MEMORY_IMPORT). */
function importing(w: TdWorld) {
  addStreams(w.p, w.td.tdr);
  const src = runnableMigratableTd(w.p);
  startImport(w.p, src.tdr, w.td.tdr);
  const token = mbmdOperand(w.p);
  return {
    token,
    inputs: { tdr_pa: w.td.tdr, mbmd_hpa_and_size: token.operand, migs_index: 0n },
  };
}
const call = (w: TdWorld) => ({ inputs: importing(w).inputs });

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "abort in MEMORY_IMPORT writes an abort token (fatal bit set)",
    world: tdcs,
    setup: (w) => {
      const c = importing(w);
      (w as unknown as { token: bigint }).token = c.token.pa;
      return { inputs: c.inputs };
    },
    then: (w, r) => {
      assert.equal(r.status, 1n << 61n);
      assert.equal(w.tdState.opState, "OP_STATE_FAILED_IMPORT");
      const pa = (w as unknown as { token: bigint }).token;
      const h = mbmdHeader(decodeMbmd(w.spec, "MBMD_ABORT_TOKEN", w.p.cpu.memory.read(pa, 48)));
      assert.equal(h.mb_type, 0x21);
      assert.equal(h.iv_counter, 1n);
      assert.equal(h.mb_counter, 0);
      assert.equal(migrationOf(w.tdState).links[0].migsc.nextMbCounter, 1);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "abort again in FAILED_IMPORT: a new token with the next counters",
    world: tdcs,
    setup: (w) => {
      const c = importing(w);
      assert.equal(w.call(LEAF, c).name, "TDX_SUCCESS");
      return c;
    },
    then: (w) => assert.equal(migrationOf(w.tdState).links[0].migsc.ivCounter, 2n),
  },
  ...tdrGateRows(LEAF, {
    operand: "RCX",
    world: tdcs,
    lock: "exclusive",
    live: call,
  }),
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "no import session (UNINITIALIZED)",
    world: tdcs,
    setup: (w) => ({ inputs: { tdr_pa: w.td.tdr } }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "stream index 1",
    world: tdcs,
    setup: (w) => ({ inputs: { ...call(w).inputs, migs_index: 1n } }),
    then: (w) => assert.equal(w.tdState.opState, "OP_STATE_MEMORY_IMPORT"),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the token buffer is smaller than an MBMD",
    world: tdcs,
    setup: (w) => {
      const c = importing(w);
      return { inputs: { ...c.inputs, mbmd_hpa_and_size: c.token.pa | (47n << 52n) } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the token buffer is not 128-byte aligned",
    world: tdcs,
    setup: (w) => {
      const c = importing(w);
      return { inputs: { ...c.inputs, mbmd_hpa_and_size: c.token.operand + 0x40n } };
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "MIGSC",
    why: "another operation holds the backward stream",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      w.hold(migLockKey.migsc(w.td.tdr, 0));
      return c;
    },
    then: (w) => assert.equal(w.tdState.opState, "OP_STATE_MEMORY_IMPORT"),
  },
]);
