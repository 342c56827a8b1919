import { strict as assert } from "node:assert";
import { tdrGateRows, tdStatusTests, type TdWorld } from "../testing/td_status_table.ts";
import { migLockKey, migrationOf } from "../migration/session.ts";
import { dumpPage, TD_MUTABLE } from "../migration/md_lists.ts";
import type { TdState } from "../state.ts";
import {
  addStreams,
  mbmdOperand,
  mdListPage,
  pageList,
  resumeCommand,
  runnableMigratableTd,
  sealedTdStateBundle,
  startImport,
  withLastEntry,
} from "../migration/migration_fixture.ts";

const LEAF = "TDH.IMPORT.STATE.TD";
const tdcs = { td: { stage: "tdcs" as const } };

/** This world's TD imported a source's immutable state; the source paused and exported its TD state. */
function exported(w: TdWorld, pages = 1) {
  addStreams(w.p, w.td.tdr);
  const src = runnableMigratableTd(w.p);
  startImport(w.p, src.tdr, w.td.tdr);
  w.ok("TDH.EXPORT.PAUSE", { tdr_pa: src.tdr });
  const mbmd = mbmdOperand(w.p);
  const list = pageList(w.p, 2);
  w.ok("TDH.EXPORT.STATE.TD", {
    tdr_pa: src.tdr,
    mbmd_hpa_and_size: mbmd.operand,
    page_list_info: list.info,
    migs_index_and_cmd: 0n,
  });
  (w as unknown as { list: typeof list; mbmd: bigint }).list = list;
  (w as unknown as { mbmd: bigint }).mbmd = mbmd.pa;
  return {
    inputs: {
      tdr_pa: w.td.tdr,
      mbmd_hpa_and_size: mbmd.operand,
      page_list_info: withLastEntry(list.info, pages),
      migs_index_and_cmd: 0n,
    },
  };
}
const call = (w: TdWorld) => exported(w);

/** A hand-made TD-state bundle under this TD's session key (the TD imported its immutable state). */
function sealed(
  w: TdWorld,
  pages: Uint8Array[] | ((src: TdState) => Uint8Array[]),
  header = {},
) {
  addStreams(w.p, w.td.tdr);
  const src = runnableMigratableTd(w.p);
  startImport(w.p, src.tdr, w.td.tdr);
  const key = migrationOf(w.tdState).migDecWorkingKey;
  const list = typeof pages === "function" ? pages(w.state.tds.get(src.tdr)!) : pages;
  const b = sealedTdStateBundle(w.p, key, list, header);
  return {
    inputs: {
      tdr_pa: w.td.tdr,
      mbmd_hpa_and_size: b.mbmd.operand,
      page_list_info: b.info,
      migs_index_and_cmd: 0n,
    },
  };
}
const failed = (w: TdWorld) => assert.equal(w.tdState.opState, "OP_STATE_FAILED_IMPORT");

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the source's mutable TD state: STATE_IMPORT",
    world: tdcs,
    setup: call,
    then: (w) => {
      assert.equal(w.tdState.opState, "OP_STATE_STATE_IMPORT");
      assert.equal(migrationOf(w.tdState).links[1].migsc.expectedMbCounter, 2);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "resumed after an interruption (the source's list, then an empty list page)",
    world: tdcs,
    setup: (w) => {
      const c = sealed(w, (src) => [
        dumpPage({ spec: w.spec, cpu: w.p.cpu, state: w.state, td: src }, TD_MUTABLE, 0).page,
        mdListPage(),
      ]);
      w.p.cpu.pendHostInterrupt(0, true);
      assert.equal(w.call(LEAF, c).name, "TDX_INTERRUPTED_RESUMABLE");
      w.p.cpu.pendHostInterrupt(0, false);
      return { inputs: { ...c.inputs, migs_index_and_cmd: resumeCommand(w.spec) } };
    },
    then: (w) => assert.equal(w.tdState.opState, "OP_STATE_STATE_IMPORT"),
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
    setup: (w) => ({ inputs: { ...call(w).inputs, migs_index_and_cmd: 1n } }),
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
    status: "TDX_MIGRATION_STREAM_STATE_INCORRECT",
    why: "forward stream 0 uninitialised (injected)",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      migrationOf(w.tdState).links[1].initialized = false;
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the MBMD buffer is smaller than an MBMD (the session fails)",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      const pa = (w as unknown as { mbmd: bigint }).mbmd;
      return { inputs: { ...c.inputs, mbmd_hpa_and_size: pa | (47n << 52n) } };
    },
    then: failed,
  },
  {
    status: "TDX_INVALID_MBMD",
    why: "the bundle's counter is not the stream's next (a replay); the session fails",
    world: tdcs,
    setup: (w) => sealed(w, [mdListPage()], { mb_counter: 0 }),
    then: failed,
  },
  {
    status: "TDX_INVALID_RESUMPTION",
    why: "resume with nothing interrupted",
    world: tdcs,
    setup: (w) => ({ inputs: { ...call(w).inputs, migs_index_and_cmd: resumeCommand(w.spec) } }),
    then: (w) => assert.equal(w.tdState.opState, "OP_STATE_MEMORY_IMPORT"),
  },
  {
    status: "TDX_INVALID_RESUMPTION",
    why: "resumed with another page list; the session fails",
    world: tdcs,
    setup: (w) => {
      const c = exported(w, 2);
      w.p.cpu.pendHostInterrupt(0, true);
      assert.equal(w.call(LEAF, c).name, "TDX_INTERRUPTED_RESUMABLE");
      w.p.cpu.pendHostInterrupt(0, false);
      return {
        inputs: {
          ...c.inputs,
          page_list_info: pageList(w.p, 2).info,
          migs_index_and_cmd: resumeCommand(w.spec),
        },
      };
    },
    then: failed,
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "a reserved bit of PAGE_LIST_INFO; the session fails",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      return { inputs: { ...c.inputs, page_list_info: BigInt(c.inputs.page_list_info) | 1n } };
    },
    then: failed,
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "PAGE",
    why: "a page list entry with a private KeyID; the session fails",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      const l = (w as unknown as { list: ReturnType<typeof pageList> }).list;
      const bad = new Uint8Array(8);
      new DataView(bad.buffer).setBigUint64(
        0,
        w.p.cpu.memory.withKeyId(l.pages[0], w.td.hkid),
        true,
      );
      w.p.cpu.memory.write(l.listPa, bad);
      return c;
    },
    then: failed,
  },
  {
    status: "TDX_INTERRUPTED_RESUMABLE",
    why: "a host interrupt after the first of two pages",
    world: tdcs,
    setup: (w) => {
      const c = exported(w, 2);
      w.p.cpu.pendHostInterrupt(0, true);
      return c;
    },
    then: (w, r) => {
      assert.equal(w.tdState.opState, "OP_STATE_MEMORY_IMPORT");
      assert.equal(r.out.ext_error_info_0, w.td.tdr);
    },
  },
  {
    status: "TDX_INCORRECT_MBMD_MAC",
    why: "an encrypted page was changed in transit; the session fails",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      const l = (w as unknown as { list: ReturnType<typeof pageList> }).list;
      const b = w.p.cpu.memory.read(l.pages[0], 1);
      w.p.cpu.memory.write(l.pages[0], Uint8Array.of(b[0] ^ 1));
      return c;
    },
    then: failed,
  },
  {
    status: "TDX_INVALID_METADATA_LIST_HEADER",
    why: "a list with a reserved header bit (MAC verifies); the session fails",
    world: tdcs,
    setup: (w) => sealed(w, [mdListPage([], { reserved: 1 })]),
    then: failed,
  },
  {
    status: "TDX_METADATA_LIST_OVERFLOW",
    why: "a list claiming a sequence it lacks; the session fails",
    world: tdcs,
    setup: (w) => sealed(w, [mdListPage([], { sequences: 1 })]),
    then: failed,
  },
  {
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
    why: "a list naming a global field; the session fails",
    world: tdcs,
    setup: (w) => sealed(w, [mdListPage([0x0000000200000000n, 1n], { sequences: 1 })]),
    then: failed,
  },
  {
    status: "TDX_REQUIRED_METADATA_FIELD_MISSING",
    why: "an empty list; the session fails",
    world: tdcs,
    setup: (w) => sealed(w, [mdListPage()]),
    then: failed,
  },
]);
