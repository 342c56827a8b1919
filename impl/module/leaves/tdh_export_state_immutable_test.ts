import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { Platform } from "../testing/fixture.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
  type WorldOptions,
} from "../testing/td_status_table.ts";
import { migLockKey, migrationOf } from "../migration/session.ts";
import { migLimit } from "../migration/limits.ts";
import { installMigDecKey } from "../migration/keys.ts";
import {
  addStreams,
  immutableExportInputs,
  migratableAttributes,
  resumeCommand,
} from "../migration/migration_fixture.ts";
import { decodeMbmd, mbmdHeader } from "../migration/mbmd.ts";
import { catalog } from "../metadata.ts";

const LEAF = "TDH.EXPORT.STATE.IMMUTABLE";
const SPEC = new Platform().spec;
const runnable: WorldOptions = {
  td: { attributes: migratableAttributes(SPEC) },
  vcpus: [{}],
  finalize: true,
};

function exportCount(w: TdWorld): bigint {
  const cat = catalog(w.spec);
  return w.tdState.fields.get(cat.field("td", "EXPORT_COUNT").baseId) ?? 0n;
}

/** Streams and a migration key: everything a session start needs. */
function ready(w: TdWorld, pages = 8) {
  addStreams(w.p, w.td.tdr);
  installMigDecKey(w.spec, w.tdState, new Uint8Array(32).fill(7));
  return immutableExportInputs(w.p, w.td.tdr, pages);
}
const call = (w: TdWorld) => ({ inputs: ready(w).inputs });
const withInputs = (w: TdWorld, over: Record<string, bigint>) => ({
  inputs: { ...ready(w).inputs, ...over },
});

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the SYS and TD lists are exported and the MBMD written",
    world: runnable,
    setup: (w) => {
      const ex = ready(w);
      (w as unknown as { ex: typeof ex }).ex = ex;
      return { inputs: ex.inputs };
    },
    then: (w, r) => {
      const ex = (w as unknown as { ex: ReturnType<typeof ready> }).ex;
      assert.equal(w.tdState.opState, "OP_STATE_LIVE_EXPORT");
      assert.equal(r.out.num_pages, 2n);
      const mbmd = w.p.cpu.memory.read(ex.mbmd.pa, 48);
      const d = decodeMbmd(w.spec, "MBMD_IMMUTABLE_TD_STATE", mbmd);
      const h = mbmdHeader(d);
      assert.equal(h.size, 48);
      assert.equal(h.iv_counter, 1n);
      assert.equal(h.mb_counter, 0);
      assert.equal(d.num_f_migs, 1);
      assert.equal(d.num_sys_md_pages, 1);
      assert.equal(exportCount(w), 1n);
      // The key was consumed: the next session needs a new one.
      assert.equal(migrationOf(w.tdState).links[1].initialized, true);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "resumed after an interruption",
    world: runnable,
    setup: (w) => {
      const ex = ready(w);
      w.p.cpu.pendHostInterrupt(0, true);
      const first = w.call(LEAF, { inputs: ex.inputs });
      assert.equal(first.name, "TDX_INTERRUPTED_RESUMABLE");
      assert.equal(first.out.num_pages, 1n);
      w.p.cpu.pendHostInterrupt(0, false);
      return { inputs: { ...ex.inputs, migs_index_and_cmd: resumeCommand(w.spec) } };
    },
    then: (w, r) => {
      assert.equal(r.out.num_pages, 2n);
      assert.equal(w.tdState.opState, "OP_STATE_LIVE_EXPORT");
    },
  },
  ...dispatcherRows(LEAF, (w) => ({ inputs: immutableExportInputs(w.p, w.td.tdr).inputs })),
  ...hpaRows({
    operand: "RCX",
    what: "TDR",
    world: runnable,
    call: (w, pa) => ({ inputs: { ...immutableExportInputs(w.p, w.td.tdr).inputs, tdr_pa: pa } }),
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.page(),
    lock: "shared",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_TD_FATAL",
    why: "the TD is marked fatal (injected)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.tdState.fatal = true;
      return c;
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "TDH.MNG.KEY.CONFIG not done",
    world: { td: { stage: "created" } },
    setup: (w) => ({ inputs: immutableExportInputs(w.p, w.td.tdr).inputs }),
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "no TDCS page added",
    world: { td: { stage: "keys" } },
    setup: (w) => ({ inputs: immutableExportInputs(w.p, w.td.tdr).inputs }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "another operation holds the OP_STATE lock",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.hold(lockKey.tdcs(w.td.tdr), "shared");
      return c;
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "the TD is not finalized (INITIALIZED)",
    world: { td: { attributes: migratableAttributes(SPEC) } },
    setup: (w) => call(w),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "MIG",
    why: "another migration operation holds the migration lock",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.hold(migLockKey.mig(w.td.tdr), "shared");
      return c;
    },
  },
  {
    status: "TDX_TD_NOT_MIGRATABLE",
    why: "ATTRIBUTES.MIGRATABLE is 0",
    world: { vcpus: [{}], finalize: true },
    setup: (w) => call(w),
  },
  {
    status: "TDX_PREVIOUS_EXPORT_CLEANUP_INCOMPLETE",
    why: "pages of an aborted export are not all restored (MIG_COUNT injected)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      migrationOf(w.tdState).migCount = 1n;
      return c;
    },
  },
  {
    status: "TDX_MIN_MIGS_NOT_CREATED",
    why: "only one stream",
    world: runnable,
    setup: (w) => {
      addStreams(w.p, w.td.tdr, 1);
      return { inputs: immutableExportInputs(w.p, w.td.tdr).inputs };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the MBMD buffer size is below the MBMD's",
    world: runnable,
    setup: (w) => {
      const ex = ready(w);
      return withInputs(w, { mbmd_hpa_and_size: ex.mbmd.pa | (47n << 52n) });
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the MBMD buffer is not 128-byte aligned",
    world: runnable,
    setup: (w) => {
      const ex = ready(w);
      return withInputs(w, { mbmd_hpa_and_size: ex.mbmd.operand + 0x40n });
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "stream index 1",
    world: runnable,
    setup: (w) => withInputs(w, { migs_index_and_cmd: 1n }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "a reserved bit of MIGS_INDEX_AND_CMD",
    world: runnable,
    setup: (w) => withInputs(w, { migs_index_and_cmd: 1n << 20n }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "MIGSC",
    why: "another operation holds forward stream 0",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.hold(migLockKey.migsc(w.td.tdr, 1));
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "a page list of 2 pages (LAST_ENTRY 1)",
    world: runnable,
    setup: (w) => ({ inputs: ready(w, 2).inputs }),
    then: (w) => assert.equal(w.tdState.opState, "OP_STATE_RUNNABLE"),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "a reserved bit of PAGE_LIST_INFO",
    world: runnable,
    setup: (w) => {
      const ex = ready(w);
      return withInputs(w, { page_list_info: ex.list.info | 1n });
    },
  },
  {
    status: "TDX_MIGRATION_DECRYPTION_KEY_NOT_SET",
    why: "the Migration TD has not set a key",
    world: runnable,
    setup: (w) => {
      addStreams(w.p, w.td.tdr);
      return { inputs: immutableExportInputs(w.p, w.td.tdr).inputs };
    },
  },
  {
    status: "TDX_MIGRATION_DECRYPTION_KEY_NOT_SET",
    why: "the key was used by the previous (aborted) session",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      assert.equal(w.call(LEAF, c).name, "TDX_SUCCESS");
      w.ok("TDH.EXPORT.ABORT", { tdr_pa: w.td.tdr, mbmd_hpa_and_size: 0n, migs_index: 0n });
      return { inputs: immutableExportInputs(w.p, w.td.tdr).inputs };
    },
    then: (w) => assert.equal(exportCount(w), 1n),
  },
  {
    status: "TDX_RND_NO_ENTROPY",
    why: "no entropy for the next session's key",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.p.cpu.blockRng(true);
      return c;
    },
    then: (w) => assert.equal(exportCount(w), 0n),
  },
  {
    status: "TDX_MAX_EXPORTS_EXCEEDED",
    why: "EXPORT_COUNT is at its maximum (injected)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      const cat = catalog(w.spec);
      w.tdState.fields.set(
        cat.field("td", "EXPORT_COUNT").baseId,
        migLimit(w.spec, "MAX_EXPORT_COUNT"),
      );
      return c;
    },
  },
  {
    status: "TDX_INVALID_RESUMPTION",
    why: "resume of a stream whose last call failed (nothing interrupted)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      const cat = catalog(w.spec);
      w.tdState.fields.set(
        cat.field("td", "EXPORT_COUNT").baseId,
        migLimit(w.spec, "MAX_EXPORT_COUNT"),
      );
      assert.equal(w.call(LEAF, c).name, "TDX_MAX_EXPORTS_EXCEEDED");
      return { inputs: { ...c.inputs, migs_index_and_cmd: resumeCommand(w.spec) } };
    },
  },
  {
    status: "TDX_MIGRATION_STREAM_STATE_INCORRECT",
    why: "resume after the session was aborted",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      assert.equal(w.call(LEAF, c).name, "TDX_SUCCESS");
      w.ok("TDH.EXPORT.ABORT", { tdr_pa: w.td.tdr, mbmd_hpa_and_size: 0n, migs_index: 0n });
      return { inputs: { ...c.inputs, migs_index_and_cmd: resumeCommand(w.spec) } };
    },
  },
  {
    status: "TDX_MIGRATION_STREAM_STATE_INCORRECT",
    why: "resume on a stream no session initialised",
    world: runnable,
    setup: (w) => withInputs(w, { migs_index_and_cmd: resumeCommand(w.spec) }),
  },
  {
    status: "TDX_INVALID_RESUMPTION",
    why: "an interrupted export resumed with another page list",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.p.cpu.pendHostInterrupt(0, true);
      assert.equal(w.call(LEAF, c).name, "TDX_INTERRUPTED_RESUMABLE");
      w.p.cpu.pendHostInterrupt(0, false);
      const other = immutableExportInputs(w.p, w.td.tdr);
      return {
        inputs: {
          ...c.inputs,
          page_list_info: other.list.info,
          migs_index_and_cmd: resumeCommand(w.spec),
        },
      };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "MIG_BUFF_LIST_ENTRY",
    why: "a page list entry with a private HKID",
    world: runnable,
    setup: (w) => {
      const ex = ready(w);
      const bad = new Uint8Array(8);
      new DataView(bad.buffer).setBigUint64(
        0,
        w.p.cpu.memory.withKeyId(ex.list.pages[0], w.td.hkid),
        true,
      );
      w.p.cpu.memory.write(ex.list.listPa, bad);
      return { inputs: ex.inputs };
    },
  },
  {
    status: "TDX_INTERRUPTED_RESUMABLE",
    why: "a host interrupt is pending after the first page",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.p.cpu.pendHostInterrupt(0, true);
      return c;
    },
    then: (w, r) => {
      assert.equal(r.out.num_pages, 1n);
      assert.equal(w.tdState.opState, "OP_STATE_RUNNABLE");
    },
  },
]);
