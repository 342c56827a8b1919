import { strict as assert } from "node:assert";
import { tdrGateRows, tdStatusTests, type TdWorld } from "../testing/td_status_table.ts";
import { migLockKey, migrationOf } from "../migration/session.ts";
import {
  addStreams,
  mbmdOperand,
  resumeCommand,
  runnableMigratableTd,
  startImport,
} from "../migration/migration_fixture.ts";
import { catalog } from "../metadata.ts";

const LEAF = "TDH.IMPORT.TRACK";
const tdcs = { td: { stage: "tdcs" as const } };

function field(w: TdWorld, name: string): bigint {
  return w.tdState.fields.get(catalog(w.spec).field("td", name).baseId) ?? 0n;
}

/**
 * This world's TD imported a source's immutable state; the source then closed an epoch
 * (in order, or with `done` the in-order phase after TDH.EXPORT.PAUSE): its token's operands.
 */
function tracked(w: TdWorld, done = false) {
  addStreams(w.p, w.td.tdr);
  const src = runnableMigratableTd(w.p);
  startImport(w.p, src.tdr, w.td.tdr);
  if (done) w.ok("TDH.EXPORT.PAUSE", { tdr_pa: src.tdr });
  const buf = mbmdOperand(w.p);
  w.ok("TDH.EXPORT.TRACK", {
    tdr_pa: src.tdr,
    mbmd_hpa_and_size: buf.operand,
    migs_index_and_cmd: done ? resumeCommand(w.spec) : 0n,
  });
  (w as unknown as { token: bigint }).token = buf.pa;
  return { inputs: { tdr_pa: w.td.tdr, mbmd_hpa_and_size: buf.operand, migs_index_and_cmd: 0n } };
}
const failed = (w: TdWorld) => assert.equal(w.tdState.opState, "OP_STATE_FAILED_IMPORT");

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the source's first in-order epoch token",
    world: tdcs,
    setup: (w) => tracked(w),
    then: (w) => {
      assert.equal(field(w, "MIG_EPOCH"), 1n);
      assert.equal(field(w, "TOTAL_MB_COUNT"), 2n);
      assert.equal(w.tdState.opState, "OP_STATE_MEMORY_IMPORT");
      assert.equal(migrationOf(w.tdState).links[1].migsc.expectedMbCounter, 1);
    },
  },
  ...tdrGateRows(LEAF, {
    operand: "RCX",
    world: tdcs,
    lock: "exclusive",
    live: tracked,
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
    why: "R10 is not 0",
    world: tdcs,
    setup: (w) => ({ inputs: { ...tracked(w).inputs, migs_index_and_cmd: 1n } }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the token buffer is not 128-byte aligned",
    world: tdcs,
    setup: (w) => {
      const c = tracked(w);
      return {
        inputs: { ...c.inputs, mbmd_hpa_and_size: BigInt(c.inputs.mbmd_hpa_and_size) + 0x40n },
      };
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "MIGSC",
    why: "another operation holds forward stream 0",
    world: tdcs,
    setup: (w) => {
      const c = tracked(w);
      w.hold(migLockKey.migsc(w.td.tdr, 1));
      return c;
    },
  },
  {
    status: "TDX_MIGRATION_STREAM_STATE_INCORRECT",
    why: "forward stream 0 uninitialised (injected)",
    world: tdcs,
    setup: (w) => {
      const c = tracked(w);
      migrationOf(w.tdState).links[1].initialized = false;
      return c;
    },
  },
  {
    status: "TDX_INVALID_MBMD",
    why: "the same token again (its epoch is not above the current one); the session fails",
    world: tdcs,
    setup: (w) => {
      const c = tracked(w);
      w.ok(LEAF, c.inputs);
      return c;
    },
    then: (w, r) => {
      failed(w);
      assert.equal((r.status >> 61n) & 1n, 1n);
    },
  },
  {
    status: "TDX_INCORRECT_MBMD_MAC",
    why: "the token's MAC was changed; the session fails",
    world: tdcs,
    setup: (w) => {
      const c = tracked(w);
      const pa = (w as unknown as { token: bigint }).token + 40n;
      w.p.cpu.memory.write(pa, Uint8Array.of(w.p.cpu.memory.read(pa, 1)[0] ^ 1));
      return c;
    },
    then: failed,
  },
  {
    status: "TDX_SOME_VCPUS_NOT_MIGRATED",
    why: "the out-of-order epoch starts before the vCPU state was imported; the session fails",
    world: tdcs,
    setup: (w) => tracked(w, true),
    then: failed,
  },
]);
