import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { lockKey } from "../locks.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";
import { migLockKey } from "../migration/session.ts";
import { installMigDecKey } from "../migration/keys.ts";
import {
  addStreams,
  importInputs,
  mdListPage,
  pageList,
  resumeCommand,
  runnableMigratableTd,
  sealedImmutableBundle,
  startExport,
  withLastEntry,
} from "../migration/migration_fixture.ts";
import { servtdOf } from "../servtd_state.ts";

const LEAF = "TDH.IMPORT.STATE.IMMUTABLE";
const tdcs = { td: { stage: "tdcs" as const } };
const KEY = new Uint8Array(32).fill(0x5A);

/** A source TD exported to this world's TD (with streams here): the import's operands. */
function exported(w: TdWorld, streams = 2) {
  addStreams(w.p, w.td.tdr, 2);
  const src = runnableMigratableTd(w.p, streams);
  const ex = startExport(w.p, src.tdr, w.td.tdr);
  return { src, ex, inputs: importInputs(ex, w.td.tdr) };
}
const call = (w: TdWorld) => ({ inputs: exported(w).inputs });

/** A hand-made bundle for this world's TD (streams added, key installed). */
function sealed(
  w: TdWorld,
  td: Uint8Array,
  extra: Parameters<typeof sealedImmutableBundle>[4] = {},
) {
  addStreams(w.p, w.td.tdr, 2);
  installMigDecKey(w.spec, w.tdState, KEY);
  return { inputs: sealedImmutableBundle(w.p, w.td.tdr, KEY, [mdListPage(), td], extra) };
}

const failed = (w: TdWorld) => {
  assert.equal(w.tdState.opState, "OP_STATE_FAILED_IMPORT");
};
function fatalBitSet(_w: TdWorld, r: { status: bigint }) {
  assert.equal((r.status >> 61n) & 1n, 1n);
}

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the state exported by a source TD",
    world: tdcs,
    setup: (w) => {
      const e = exported(w);
      (w as unknown as { src: bigint }).src = e.src.tdr;
      return { inputs: e.inputs };
    },
    then: (w, r) => {
      const src = w.state.tds.get((w as unknown as { src: bigint }).src)!;
      const td = w.tdState;
      assert.equal(r.status, 0n);
      assert.equal(td.opState, "OP_STATE_MEMORY_IMPORT");
      assert.equal(td.attributes, src.attributes);
      assert.equal(td.xfam, src.xfam);
      assert.equal(td.maxVcpus, src.maxVcpus);
      assert.deepEqual(td.mrtd, src.mrtd);
      assert.deepEqual(td.uuid, src.uuid);
      assert.equal(td.eptp, src.eptp);
      assert.equal(servtdOf(w.spec, td).migDecKeySet, false);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "resumed after an interruption",
    world: tdcs,
    setup: (w) => {
      const { inputs } = exported(w);
      w.p.cpu.pendHostInterrupt(0, true);
      assert.equal(w.call(LEAF, { inputs }).name, "TDX_INTERRUPTED_RESUMABLE");
      w.p.cpu.pendHostInterrupt(0, false);
      return { inputs: { ...inputs, migs_index_and_cmd: resumeCommand(w.spec) } };
    },
    then: (w) => assert.equal(w.tdState.opState, "OP_STATE_MEMORY_IMPORT"),
  },
  ...dispatcherRows(LEAF, (w) => ({ inputs: { tdr_pa: w.td.tdr } })),
  {
    status: "TDX_LIMIT_CPUID_MAXVAL_SET",
    why: "IA32_MISC_ENABLE limits CPUID maxval on this LP",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      w.p.cpu.setLpMsr(
        0,
        "IA32_MISC_ENABLE",
        encodeBits(w.spec.bitfield("IA32_MISC_ENABLE").fields, { LIMIT_CPUID_MAXVAL: 1n }),
      );
      return c;
    },
  },
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
      w.tdState.fatal = true;
      return { inputs: { tdr_pa: w.td.tdr } };
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
    why: "the TD was initialised with TDH.MNG.INIT",
    setup: (w) => ({ inputs: { tdr_pa: w.td.tdr } }),
  },
  {
    status: "TDX_MIN_MIGS_NOT_CREATED",
    why: "one stream",
    world: tdcs,
    setup: (w) => {
      addStreams(w.p, w.td.tdr, 1);
      return { inputs: { tdr_pa: w.td.tdr } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "stream index 1",
    world: tdcs,
    setup: (w) => ({ inputs: { ...exported(w).inputs, migs_index_and_cmd: 1n } }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "MIGSC",
    why: "another operation holds forward stream 0",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      w.hold(migLockKey.migsc(w.td.tdr, 1));
      return c;
    },
  },
  {
    status: "TDX_MIGRATION_DECRYPTION_KEY_NOT_SET",
    why: "the Migration TD set no key",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      servtdOf(w.spec, w.tdState).migDecKeySet = false;
      return c;
    },
    then: (w) => assert.equal(w.tdState.opState, "OP_STATE_UNINITIALIZED"),
  },
  {
    status: "TDX_RND_NO_ENTROPY",
    why: "no entropy for the next session key",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      w.p.cpu.blockRng(true);
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the MBMD buffer is smaller than an MBMD (session fails)",
    world: tdcs,
    setup: (w) => {
      const { inputs } = exported(w);
      const pa = BigInt(inputs.mbmd_hpa_and_size) & ((1n << 52n) - 1n);
      return { inputs: { ...inputs, mbmd_hpa_and_size: pa | (47n << 52n) } };
    },
    then: (w, r) => {
      failed(w);
      fatalBitSet(w, r);
    },
  },
  {
    status: "TDX_INVALID_MBMD",
    why: "the MBMD is not of the immutable state (type MUTABLE_TD_STATE)",
    world: tdcs,
    setup: (w) => sealed(w, mdListPage(), { mb_type: 1 }),
    then: failed,
  },
  {
    status: "TDX_INVALID_MBMD",
    why: "the MBMD's counter is not 0 (a replayed bundle)",
    world: tdcs,
    setup: (w) => sealed(w, mdListPage(), { mb_counter: 1 }),
    then: failed,
  },
  {
    status: "TDX_NUM_MIGS_HIGHER_THAN_CREATED",
    why: "the source used 2 forward streams, this TD has 1",
    world: tdcs,
    setup: (w) => ({ inputs: exported(w, 3).inputs }),
    then: (w, r) => {
      failed(w);
      fatalBitSet(w, r);
    },
  },
  {
    status: "TDX_MIGRATION_STREAM_STATE_INCORRECT",
    why: "resume on a stream no session initialised",
    world: tdcs,
    setup: (w) => ({
      inputs: { ...exported(w).inputs, migs_index_and_cmd: resumeCommand(w.spec) },
    }),
    then: (w) => assert.equal(w.tdState.opState, "OP_STATE_UNINITIALIZED"),
  },
  {
    status: "TDX_INVALID_RESUMPTION",
    why: "resumed with another page list (session fails)",
    world: tdcs,
    setup: (w) => {
      const { inputs } = exported(w);
      w.p.cpu.pendHostInterrupt(0, true);
      assert.equal(w.call(LEAF, { inputs }).name, "TDX_INTERRUPTED_RESUMABLE");
      w.p.cpu.pendHostInterrupt(0, false);
      const other = pageList(w.p, 2).info;
      return {
        inputs: { ...inputs, page_list_info: other, migs_index_and_cmd: resumeCommand(w.spec) },
      };
    },
    then: failed,
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "LAST_ENTRY 0: no page for the TD list (session fails)",
    world: tdcs,
    setup: (w) => {
      const { inputs } = exported(w);
      return {
        inputs: { ...inputs, page_list_info: withLastEntry(BigInt(inputs.page_list_info), 1) },
      };
    },
    then: failed,
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "PAGE",
    why: "a page list entry with a private HKID (session fails)",
    world: tdcs,
    setup: (w) => {
      const { inputs, ex } = exported(w);
      const bad = new Uint8Array(8);
      new DataView(bad.buffer).setBigUint64(
        0,
        w.p.cpu.memory.withKeyId(ex.list.pages[1], w.td.hkid),
        true,
      );
      w.p.cpu.memory.write(ex.list.listPa + 8n, bad);
      return { inputs };
    },
    then: failed,
  },
  {
    status: "TDX_INTERRUPTED_RESUMABLE",
    why: "a host interrupt is pending after the first page",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      w.p.cpu.pendHostInterrupt(0, true);
      return c;
    },
    then: (w, r) => {
      assert.equal(w.tdState.opState, "OP_STATE_UNINITIALIZED");
      // RCX and RDX keep the caller's values for the resumption.
      assert.equal(r.out.ext_error_info_0, w.td.tdr);
    },
  },
  {
    status: "TDX_INCORRECT_MBMD_MAC",
    why: "an encrypted page was changed in transit",
    world: tdcs,
    setup: (w) => {
      const { inputs, ex } = exported(w);
      const b = w.p.cpu.memory.read(ex.list.pages[1], 1);
      w.p.cpu.memory.write(ex.list.pages[1], Uint8Array.of(b[0] ^ 1));
      return { inputs };
    },
    then: (w, r) => {
      failed(w);
      fatalBitSet(w, r);
    },
  },
  {
    status: "TDX_INVALID_METADATA_LIST_HEADER",
    why: "the TD list's header has reserved bits set",
    world: tdcs,
    setup: (w) => sealed(w, mdListPage([], { reserved: 1 })),
    then: failed,
  },
  {
    status: "TDX_METADATA_LIST_OVERFLOW",
    why: "the TD list claims a sequence it does not hold",
    world: tdcs,
    setup: (w) => sealed(w, mdListPage([], { sequences: 1 })),
    then: failed,
  },
  {
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
    why: "a sequence names a field id of the global context in the TD list",
    world: tdcs,
    setup: (w) => sealed(w, mdListPage([0x0000000200000000n, 1n], { sequences: 1 })),
    then: (w, r) => {
      failed(w);
      assert.equal(r.out.ext_error_info_0, 0x0000000200000000n);
    },
  },
  {
    status: "TDX_REQUIRED_METADATA_FIELD_MISSING",
    why: "the TD list is empty",
    world: tdcs,
    setup: (w) => sealed(w, mdListPage()),
    then: failed,
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "the source TD's NUM_VCPUS is 0 (injected at the source before export)",
    world: tdcs,
    setup: (w) => {
      addStreams(w.p, w.td.tdr, 2);
      const src = runnableMigratableTd(w.p);
      w.state.tds.get(src.tdr)!.numVcpus = 0;
      const ex = startExport(w.p, src.tdr, w.td.tdr);
      return { inputs: importInputs(ex, w.td.tdr) };
    },
    then: failed,
  },
]);
