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
  importTd,
  mbmdOperand,
  migratableAttributes,
  pageList,
  resumeCommand,
  startExport,
} from "../migration/migration_fixture.ts";
import { decodeMbmd, mbmdHeader } from "../migration/mbmd.ts";

const LEAF = "TDH.EXPORT.STATE.TD";
const SPEC = new Platform().spec;
const runnable: WorldOptions = {
  td: { attributes: migratableAttributes(SPEC) },
  vcpus: [{}],
  finalize: true,
};

/** The TD exported its immutable state and is paused: the call's operands. */
function paused(w: TdWorld, pages = 4) {
  addStreams(w.p, w.td.tdr);
  startExport(w.p, w.td.tdr, importTd(w.p).tdr);
  w.ok("TDH.EXPORT.PAUSE", { tdr_pa: w.td.tdr });
  const mbmd = mbmdOperand(w.p);
  const list = pageList(w.p, pages);
  (w as unknown as { mbmd: bigint; list: typeof list }).mbmd = mbmd.pa;
  (w as unknown as { list: typeof list }).list = list;
  return {
    inputs: {
      tdr_pa: w.td.tdr,
      mbmd_hpa_and_size: mbmd.operand,
      page_list_info: list.info,
      migs_index_and_cmd: 0n,
    },
  };
}
const call = (w: TdWorld) => paused(w);
const listOf = (w: TdWorld) => (w as unknown as { list: ReturnType<typeof pageList> }).list;

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the mutable TD state in one page, the MBMD the stream's second bundle",
    world: runnable,
    setup: call,
    then: (w, r) => {
      assert.equal(r.out.num_pages, 1n);
      const pa = (w as unknown as { mbmd: bigint }).mbmd;
      const h = mbmdHeader(decodeMbmd(w.spec, "MBMD_TD_STATE", w.p.cpu.memory.read(pa, 48)));
      assert.equal(h.mb_type, 1);
      assert.equal(h.mb_counter, 1);
      assert.equal(h.iv_counter, 2n);
      assert.equal(migrationOf(w.tdState).links[1].migsc.nextMbCounter, 2);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "resumed after an interruption (list pages made small: injected)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      migrationOf(w.tdState).listCapacity = 256;
      w.p.cpu.pendHostInterrupt(0, true);
      assert.equal(w.call(LEAF, c).name, "TDX_INTERRUPTED_RESUMABLE");
      w.p.cpu.pendHostInterrupt(0, false);
      return { inputs: { ...c.inputs, migs_index_and_cmd: resumeCommand(w.spec) } };
    },
    then: (_w, r) => assert.ok(r.out.num_pages > 1n),
  },
  ...tdrGateRows(LEAF, {
    operand: "RCX",
    world: runnable,
    lock: "shared",
    live: call,
    opStateHeld: "shared",
  }),
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "the TD still runs (LIVE_EXPORT)",
    world: runnable,
    setup: (w) => {
      addStreams(w.p, w.td.tdr);
      startExport(w.p, w.td.tdr, importTd(w.p).tdr);
      return { inputs: { tdr_pa: w.td.tdr } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "stream index 1",
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
    status: "TDX_MIGRATION_STREAM_STATE_INCORRECT",
    why: "forward stream 0 uninitialised (injected)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      migrationOf(w.tdState).links[1].initialized = false;
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "a page list of one page (LAST_ENTRY 0)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      return { inputs: { ...c.inputs, page_list_info: listOf(w).listPa } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "the page list carries a private KeyID (resumed call)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      migrationOf(w.tdState).listCapacity = 256;
      w.p.cpu.pendHostInterrupt(0, true);
      assert.equal(w.call(LEAF, c).name, "TDX_INTERRUPTED_RESUMABLE");
      w.p.cpu.pendHostInterrupt(0, false);
      // The list address itself is checked after the command's own checks.
      const bad = w.p.cpu.memory.withKeyId(listOf(w).listPa, w.td.hkid) | (BigInt(3) << 55n);
      const migsc = migrationOf(w.tdState).links[1].migsc;
      migsc.interrupted!.pageListInfo = bad;
      return {
        inputs: { ...c.inputs, page_list_info: bad, migs_index_and_cmd: resumeCommand(w.spec) },
      };
    },
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
    setup: (w) => {
      const c = call(w);
      migrationOf(w.tdState).listCapacity = 256;
      w.p.cpu.pendHostInterrupt(0, true);
      assert.equal(w.call(LEAF, c).name, "TDX_INTERRUPTED_RESUMABLE");
      w.p.cpu.pendHostInterrupt(0, false);
      const other = pageList(w.p, 4).info;
      return {
        inputs: { ...c.inputs, page_list_info: other, migs_index_and_cmd: resumeCommand(w.spec) },
      };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "MIG_BUFF_LIST_ENTRY",
    why: "a page list entry with a private KeyID",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      const bad = new Uint8Array(8);
      const l = listOf(w);
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
    status: "TDX_INTERRUPTED_RESUMABLE",
    why: "a host interrupt after the first page (list pages made small: injected)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      migrationOf(w.tdState).listCapacity = 256;
      w.p.cpu.pendHostInterrupt(0, true);
      return c;
    },
    then: (_w, r) => assert.equal(r.out.num_pages, 1n),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "the state needs more pages than listed (list pages made small: injected)",
    world: runnable,
    setup: (w) => {
      const c = paused(w, 2);
      migrationOf(w.tdState).listCapacity = 128;
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the MBMD buffer is smaller than an MBMD (checked once the list is done)",
    world: runnable,
    setup: (w) => {
      const c = call(w);
      const pa = (w as unknown as { mbmd: bigint }).mbmd;
      return { inputs: { ...c.inputs, mbmd_hpa_and_size: pa | (47n << 52n) } };
    },
  },
]);
