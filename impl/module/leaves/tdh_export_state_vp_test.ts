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
import {
  addStreams,
  importTd,
  mbmdOperand,
  migratableAttributes,
  pageList,
  resumeCommand,
  startExport,
} from "../migration/migration_fixture.ts";
import { decodeMbmd, mbmdHeader } from "../migration/mbmd.ts";

const LEAF = "TDH.EXPORT.STATE.VP";
const SPEC = new Platform().spec;
const runnable: WorldOptions = {
  td: { attributes: migratableAttributes(SPEC) },
  vcpus: [{}],
  finalize: true,
};

/** The TD exported its immutable state and is paused: the call's operands for its vCPU. */
function paused(w: TdWorld, pages = 6, streams = 2) {
  addStreams(w.p, w.td.tdr, streams);
  startExport(w.p, w.td.tdr, importTd(w.p).tdr);
  w.ok("TDH.EXPORT.PAUSE", { tdr_pa: w.td.tdr });
  const mbmd = mbmdOperand(w.p);
  const list = pageList(w.p, pages);
  (w as unknown as { mbmd: bigint }).mbmd = mbmd.pa;
  (w as unknown as { list: typeof list }).list = list;
  return {
    inputs: {
      tdvpr_pa: w.vcpu,
      mbmd_hpa_and_size: mbmd.operand,
      page_list_info: list.info,
      migs_index_and_cmd: 0n,
    },
  };
}
const call = (w: TdWorld) => paused(w);
const listOf = (w: TdWorld) => (w as unknown as { list: ReturnType<typeof pageList> }).list;
const small = (w: TdWorld) => (migrationOf(w.tdState).listCapacity = 1024);
function interrupted(w: TdWorld) {
  const c = call(w);
  small(w);
  w.p.cpu.pendHostInterrupt(0, true);
  assert.equal(w.call(LEAF, c).name, "TDX_INTERRUPTED_RESUMABLE");
  w.p.cpu.pendHostInterrupt(0, false);
  return c;
}

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why:
      "the vCPU's state (4 pages: the fields, then empty lists); the MBMD names stream 0, VP index 0",
    world: runnable,
    setup: call,
    then: (w, r) => {
      assert.equal(r.out.num_pages, 4n);
      const pa = (w as unknown as { mbmd: bigint }).mbmd;
      const d = decodeMbmd(w.spec, "MBMD_VP_STATE", w.p.cpu.memory.read(pa, 48));
      assert.equal(mbmdHeader(d).mb_type, 2);
      assert.equal(mbmdHeader(d).mb_counter, 1);
      assert.equal(d.vp_index, 0);
      assert.equal(w.vcpuState().associatedLp, 0);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "on forward stream 1 (initialised by this call)",
    world: runnable,
    setup: (w) => ({ inputs: { ...paused(w, 6, 3).inputs, migs_index_and_cmd: 1n } }),
    then: (w) => {
      assert.equal(migrationOf(w.tdState).links[2].initialized, true);
      const pa = (w as unknown as { mbmd: bigint }).mbmd;
      const h = mbmdHeader(decodeMbmd(w.spec, "MBMD_VP_STATE", w.p.cpu.memory.read(pa, 48)));
      assert.equal(h.migs_index, 1);
      assert.equal(h.iv_counter, 1n);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "resumed after an interruption (list pages made small: injected)",
    world: runnable,
    setup: (w) => ({
      inputs: { ...interrupted(w).inputs, migs_index_and_cmd: resumeCommand(w.spec) },
    }),
    then: (_w, r) => assert.ok(r.out.num_pages > 1n),
  },
  ...dispatcherRows(LEAF, (w) => ({ inputs: { tdvpr_pa: w.page() } })),
  ...hpaRows({
    operand: "RCX",
    what: "TDVPR",
    world: runnable,
    call: (_w, pa) => ({ inputs: { tdvpr_pa: pa } }),
    page: (w) => w.vcpu,
    wrongPage: (w) => w.td.tdr,
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_OPERAND_BUSY",
    operand: "TDR",
    why: "another operation holds the TDR exclusively",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.hold(lockKey.page(w.td.tdr));
      return c;
    },
  },
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
    why: "the TD's keys are being torn down (lifecycle injected)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.tdState.lifecycle = "TD_BLOCKED";
      return c;
    },
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "TDCS pages missing (injected)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.tdState.tdcx = w.tdState.tdcx.slice(0, 1);
      return c;
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "another operation holds the OP_STATE lock exclusively",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.hold(lockKey.tdcs(w.td.tdr));
      return c;
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "the TD still runs (no export session)",
    world: runnable,
    setup: (w) => ({ inputs: { tdvpr_pa: w.vcpu } }),
  },
  {
    status: "TDX_TDCX_NUM_INCORRECT",
    why: "the vCPU lacks TDVPS pages (injected)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.vcpuState().tdcx = [];
      return c;
    },
  },
  {
    status: "TDX_VCPU_STATE_INCORRECT",
    why: "the vCPU is not READY (disabled: injected)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.vcpuState().state = "disabled";
      return c;
    },
  },
  {
    status: "TDX_VCPU_ASSOCIATED",
    why: "the vCPU is associated with another LP",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.vcpuState().associatedLp = 1;
      return c;
    },
  },
  {
    status: "TDX_VCPU_ALREADY_EXPORTED",
    why: "the vCPU was exported in this session",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      w.ok(LEAF, c.inputs);
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "stream index 1 of a TD with one forward stream",
    world: runnable,
    setup: (w) => ({ inputs: { ...call(w).inputs, migs_index_and_cmd: 1n } }),
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
    why: "a page list of 4 pages (LAST_ENTRY 3)",
    world: runnable,
    setup: (w) => paused(w, 4),
  },
  {
    status: "TDX_MIGRATION_STREAM_STATE_INCORRECT",
    why: "resume on forward stream 1, which no call initialised",
    world: runnable,
    setup: (w) => ({
      inputs: { ...paused(w, 6, 3).inputs, migs_index_and_cmd: resumeCommand(w.spec) | 1n },
    }),
  },
  {
    status: "TDX_INVALID_RESUMPTION",
    why: "resume with nothing interrupted",
    world: runnable,
    setup: (w) => ({ inputs: { ...call(w).inputs, migs_index_and_cmd: resumeCommand(w.spec) } }),
  },
  {
    status: "TDX_INVALID_RESUMPTION",
    why: "resumed with another page list",
    world: runnable,
    setup: (w) => ({
      inputs: {
        ...interrupted(w).inputs,
        page_list_info: pageList(w.p, 6).info,
        migs_index_and_cmd: resumeCommand(w.spec),
      },
    }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "the page list carries a private KeyID",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      const bad = w.p.cpu.memory.withKeyId(listOf(w).listPa, w.td.hkid) | (5n << 55n);
      return { inputs: { ...c.inputs, page_list_info: bad } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "MIG_BUFF_LIST_ENTRY",
    why: "a page list entry with a private KeyID",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      const l = listOf(w);
      const bad = new Uint8Array(8);
      new DataView(bad.buffer).setBigUint64(
        0,
        w.p.cpu.memory.withKeyId(l.pages[0], w.td.hkid),
        true,
      );
      w.p.cpu.memory.write(l.listPa, bad);
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "the state needs more pages than listed (list pages made small: injected)",
    world: runnable,
    setup: (w) => {
      const c = paused(w, 5);
      migrationOf(w.tdState).listCapacity = 64;
      return c;
    },
  },
  {
    status: "TDX_INTERRUPTED_RESUMABLE",
    why: "a host interrupt after the first page (list pages made small: injected)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      small(w);
      w.p.cpu.pendHostInterrupt(0, true);
      return c;
    },
    then: (_w, r) => assert.equal(r.out.num_pages, 1n),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the MBMD buffer is smaller than an MBMD (checked once the list is written)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      const pa = (w as unknown as { mbmd: bigint }).mbmd;
      return { inputs: { ...c.inputs, mbmd_hpa_and_size: pa | (47n << 52n) } };
    },
  },
]);
