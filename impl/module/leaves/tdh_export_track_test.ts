import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import {
  tdrGateRows,
  tdStatusTests,
  type TdWorld,
  type WorldOptions,
} from "../testing/td_status_table.ts";
import { migLockKey, migrationOf } from "../migration/session.ts";
import { migLimit } from "../migration/limits.ts";
import {
  addStreams,
  importTd,
  mbmdOperand,
  migratableAttributes,
  resumeCommand,
  startExport,
} from "../migration/migration_fixture.ts";
import { decodeMbmd, mbmdHeader } from "../migration/mbmd.ts";
import { catalog } from "../metadata.ts";

const LEAF = "TDH.EXPORT.TRACK";
const SPEC = new Platform().spec;
const runnable: WorldOptions = {
  td: { attributes: migratableAttributes(SPEC) },
  vcpus: [{}],
  finalize: true,
};
function field(w: TdWorld, name: string): bigint {
  return w.tdState.fields.get(catalog(w.spec).field("td", name).baseId) ?? 0n;
}
function live(w: TdWorld) {
  addStreams(w.p, w.td.tdr);
  startExport(w.p, w.td.tdr, importTd(w.p).tdr);
  const buf = mbmdOperand(w.p);
  (w as unknown as { token: bigint }).token = buf.pa;
  return { inputs: { tdr_pa: w.td.tdr, mbmd_hpa_and_size: buf.operand, migs_index_and_cmd: 0n } };
}
function paused(w: TdWorld, done = true) {
  const c = live(w);
  w.ok("TDH.EXPORT.PAUSE", { tdr_pa: w.td.tdr });
  return done ? { inputs: { ...c.inputs, migs_index_and_cmd: resumeCommand(w.spec) } } : c;
}
const token = (w: TdWorld) => {
  const pa = (w as unknown as { token: bigint }).token;
  return decodeMbmd(w.spec, "MBMD_EPOCH_TOKEN", w.p.cpu.memory.read(pa, 48));
};

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "an in-order epoch ends: MIG_EPOCH 1, an epoch token with TOTAL_MB 2",
    world: runnable,
    setup: live,
    then: (w) => {
      assert.equal(field(w, "MIG_EPOCH"), 1n);
      assert.equal(field(w, "TOTAL_MB_COUNT"), 2n);
      const t = token(w);
      const h = mbmdHeader(t);
      assert.equal(h.mb_type, 0x20);
      assert.equal(h.mig_epoch, 1);
      assert.equal(h.iv_counter, 2n);
      assert.equal(t.total_mb, 2n);
      assert.equal(w.tdState.opState, "OP_STATE_LIVE_EXPORT");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "in-order done on a paused TD: POST_EXPORT, the out-of-order epoch",
    world: runnable,
    setup: (w) => paused(w),
    then: (w) => {
      assert.equal(w.tdState.opState, "OP_STATE_POST_EXPORT");
      assert.equal(field(w, "MIG_EPOCH"), migLimit(w.spec, "MIG_EPOCH_OUT_OF_ORDER"));
      assert.equal(mbmdHeader(token(w)).mig_epoch, 0xFFFF_FFFF);
    },
  },
  ...tdrGateRows(LEAF, {
    operand: "RCX",
    world: runnable,
    lock: "shared",
    live: live,
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
      const c = live(w);
      w.hold(migLockKey.mig(w.td.tdr), "shared");
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "stream index 1",
    world: runnable,
    setup: (w) => ({ inputs: { ...live(w).inputs, migs_index_and_cmd: 1n } }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the token buffer is smaller than an MBMD",
    world: runnable,
    setup: (w) => {
      const c = live(w);
      const pa = (w as unknown as { token: bigint }).token;
      return { inputs: { ...c.inputs, mbmd_hpa_and_size: pa | (47n << 52n) } };
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "MIGSC",
    why: "another operation holds forward stream 0",
    world: runnable,
    setup: (w) => {
      const c = live(w);
      w.hold(migLockKey.migsc(w.td.tdr, 1));
      return c;
    },
  },
  {
    status: "TDX_MIGRATION_STREAM_STATE_INCORRECT",
    why: "forward stream 0 uninitialised (injected)",
    world: runnable,
    setup: (w) => {
      const c = live(w);
      migrationOf(w.tdState).links[1].initialized = false;
      return c;
    },
  },
  {
    status: "TDX_MIGRATION_EPOCH_OVERFLOW",
    why: "MIG_EPOCH is the last in-order epoch (injected)",
    world: runnable,
    setup: (w) => {
      const c = live(w);
      const id = catalog(w.spec).field("td", "MIG_EPOCH").baseId;
      w.tdState.fields.set(id, migLimit(w.spec, "MIG_EPOCH_OUT_OF_ORDER") - 1n);
      return c;
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "in-order done while the TD still runs (LIVE_EXPORT)",
    world: runnable,
    setup: (w) => ({ inputs: { ...live(w).inputs, migs_index_and_cmd: resumeCommand(w.spec) } }),
    then: (w) => assert.equal(field(w, "MIG_EPOCH"), 0n),
  },
  {
    status: "TDX_EXPORTED_DIRTY_PAGES_REMAIN",
    why: "in-order done with an exported page dirty (DIRTY_COUNT injected)",
    world: runnable,
    setup: (w) => {
      const c = paused(w);
      migrationOf(w.tdState).dirtyCount = 1n;
      return c;
    },
  },
]);
