import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";
import { migLockKey, migrationOf } from "../migration/session.ts";
import {
  addStreams,
  mdListPage,
  pageList,
  readyForVpImport,
  resumeCommand,
  sealedVpBundle,
} from "../migration/migration_fixture.ts";
import { dumpPage, VP_MUTABLE } from "../migration/md_lists.ts";
import { catalog } from "../metadata.ts";
import { markImporting } from "../migration/vp_import.ts";

const LEAF = "TDH.IMPORT.STATE.VP";
const tdcs = { td: { stage: "tdcs" as const } };

type Ready = ReturnType<typeof readyForVpImport>;
function ready(w: TdWorld): Ready {
  addStreams(w.p, w.td.tdr);
  const r = readyForVpImport(w.p, w.td);
  (w as unknown as { r: Ready }).r = r;
  return r;
}
const got = (w: TdWorld) => (w as unknown as { r: Ready }).r;
const call = (w: TdWorld) => ({ inputs: ready(w).inputs });
const dstVcpu = (w: TdWorld) => w.state.vcpus.get(got(w).dstVcpu)!;
const failed = (w: TdWorld) => assert.equal(w.tdState.opState, "OP_STATE_FAILED_IMPORT");

/** A hand-made vCPU bundle under the session key; `pages(srcVcpu)` gives its lists. */
function sealed(w: TdWorld, pages: (r: Ready) => Uint8Array[], header = {}) {
  const r = ready(w);
  const key = migrationOf(w.tdState).migDecWorkingKey;
  const b = sealedVpBundle(w.p, key, pages(r), header);
  return {
    inputs: {
      tdvpr_pa: r.dstVcpu,
      mbmd_hpa_and_size: b.mbmd.operand,
      page_list_info: b.info,
      migs_index_and_cmd: 0n,
    },
  };
}
/** The source vCPU's lists, padded with empty ones to `n` pages. */
function sourceLists(w: TdWorld, r: Ready, n = 4): Uint8Array[] {
  const src = w.state.tds.get(r.src.tdr)!;
  const vcpu = w.state.vcpus.get(r.srcVcpu)!;
  const first = dumpPage(
    { spec: w.spec, cpu: w.p.cpu, state: w.state, td: src, vcpu },
    VP_MUTABLE,
    0,
  );
  return [first.page, ...Array.from({ length: n - 1 }, () => mdListPage())];
}
function interrupted(w: TdWorld) {
  const c = call(w);
  w.p.cpu.pendHostInterrupt(0, true);
  assert.equal(w.call(LEAF, c).name, "TDX_INTERRUPTED_RESUMABLE");
  w.p.cpu.pendHostInterrupt(0, false);
  return c;
}

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "the source's vCPU state: the vCPU is READY, one vCPU migrated",
    world: tdcs,
    setup: call,
    then: (w) => {
      assert.equal(dstVcpu(w).state, "initialized");
      const id = catalog(w.spec).field("td", "NUM_MIGRATED_VCPUS").baseId;
      assert.equal(w.tdState.fields.get(id), 1n);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "resumed after an interruption",
    world: tdcs,
    setup: (w) => ({
      inputs: { ...interrupted(w).inputs, migs_index_and_cmd: resumeCommand(w.spec) },
    }),
    then: (w) => assert.equal(dstVcpu(w).state, "initialized"),
  },
  ...dispatcherRows(LEAF, (w) => ({ inputs: { tdvpr_pa: w.page() } })),
  ...hpaRows({
    operand: "RCX",
    what: "TDVPR",
    world: tdcs,
    call: (_w, pa) => ({ inputs: { tdvpr_pa: pa } }),
    page: (w) => ready(w).dstVcpu,
    wrongPage: (w) => w.td.tdr,
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_OPERAND_BUSY",
    operand: "TDR",
    why: "another operation holds the TDR exclusively",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      w.hold(lockKey.page(w.td.tdr));
      return c;
    },
  },
  {
    status: "TDX_TD_FATAL",
    why: "the TD is marked fatal (injected)",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      w.tdState.fatal = true;
      return c;
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "the TD's keys are being torn down (lifecycle injected)",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      w.tdState.lifecycle = "TD_BLOCKED";
      return c;
    },
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "TDCS pages missing (injected)",
    world: tdcs,
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
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      w.hold(lockKey.tdcs(w.td.tdr));
      return c;
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "the mutable TD state was not imported yet (MEMORY_IMPORT, injected)",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      w.tdState.opState = "OP_STATE_MEMORY_IMPORT";
      return c;
    },
  },
  {
    status: "TDX_TDCX_NUM_INCORRECT",
    why: "the vCPU lacks TDVPS pages (injected)",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      dstVcpu(w).tdcx = [];
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "stream index 1 of a TD with one forward stream",
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
    status: "TDX_VCPU_STATE_INCORRECT",
    why: "the vCPU was already imported; the session fails",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      dstVcpu(w).state = "initialized";
      return c;
    },
    then: failed,
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "the MBMD buffer is smaller than an MBMD; the session fails",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      return { inputs: { ...c.inputs, mbmd_hpa_and_size: got(w).vp.mbmd.pa | (47n << 52n) } };
    },
    then: failed,
  },
  {
    status: "TDX_INVALID_MBMD",
    why: "the bundle's counter is not the stream's next; the session fails",
    world: tdcs,
    setup: (w) => sealed(w, (r) => sourceLists(w, r), { mb_counter: 1 }),
    then: failed,
  },
  {
    status: "TDX_INVALID_RESUMPTION",
    why: "resume with nothing interrupted",
    world: tdcs,
    setup: (w) => ({ inputs: { ...call(w).inputs, migs_index_and_cmd: resumeCommand(w.spec) } }),
  },
  {
    status: "TDX_INVALID_RESUMPTION",
    why: "resumed with another page list; the session fails",
    world: tdcs,
    setup: (w) => ({
      inputs: {
        ...interrupted(w).inputs,
        page_list_info: pageList(w.p, 4).info,
        migs_index_and_cmd: resumeCommand(w.spec),
      },
    }),
    then: failed,
  },
  {
    status: "TDX_VCPU_STATE_INCORRECT",
    why: "resumed though the vCPU left VCPU_IMPORT (injected); the session fails",
    world: tdcs,
    setup: (w) => {
      const c = interrupted(w);
      markImporting(dstVcpu(w), false);
      return { inputs: { ...c.inputs, migs_index_and_cmd: resumeCommand(w.spec) } };
    },
    then: failed,
  },
  {
    status: "TDX_VCPU_ASSOCIATED",
    why: "resumed on another LP while the vCPU is associated with the first; the session fails",
    world: tdcs,
    setup: (w) => {
      const c = interrupted(w);
      return { inputs: { ...c.inputs, migs_index_and_cmd: resumeCommand(w.spec) }, lp: 1 };
    },
    then: failed,
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "a page list of 3 pages; the session fails",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      return {
        inputs: {
          ...c.inputs,
          page_list_info: (BigInt(c.inputs.page_list_info) & ~(0x1FFn << 55n)) | (2n << 55n),
        },
      };
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
      const l = got(w).vp.list;
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
    why: "a host interrupt after the first page: the vCPU is in VCPU_IMPORT",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      w.p.cpu.pendHostInterrupt(0, true);
      return c;
    },
    then: (w, r) => {
      assert.equal(r.out.ext_error_info_0, got(w).dstVcpu);
      assert.equal(w.tdState.opState, "OP_STATE_STATE_IMPORT");
    },
  },
  {
    status: "TDX_INCORRECT_MBMD_MAC",
    why: "an encrypted page was changed in transit; the session fails",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      const pa = got(w).vp.list.pages[0];
      w.p.cpu.memory.write(pa, Uint8Array.of(w.p.cpu.memory.read(pa, 1)[0] ^ 1));
      return c;
    },
    then: failed,
  },
  {
    status: "TDX_INVALID_METADATA_LIST_HEADER",
    why: "a list with a reserved header bit; the session fails",
    world: tdcs,
    setup: (w) => sealed(w, (r) => [mdListPage([], { reserved: 1 }), ...sourceLists(w, r, 3)]),
    then: failed,
  },
  {
    status: "TDX_METADATA_LIST_OVERFLOW",
    why: "a list claiming a sequence it lacks; the session fails",
    world: tdcs,
    setup: (w) => sealed(w, (r) => [mdListPage([], { sequences: 1 }), ...sourceLists(w, r, 3)]),
    then: failed,
  },
  {
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
    why: "a list naming a TD field; the session fails",
    world: tdcs,
    setup: (w) =>
      sealed(w, (r) => [
        mdListPage([0x9010000300000000n, 1n], { sequences: 1 }),
        ...sourceLists(w, r, 3),
      ]),
    then: failed,
  },
  {
    status: "TDX_REQUIRED_METADATA_FIELD_MISSING",
    why: "only empty lists; the session fails",
    world: tdcs,
    setup: (w) => sealed(w, () => [mdListPage(), mdListPage(), mdListPage(), mdListPage()]),
    then: failed,
  },
  {
    status: "TDX_ALL_VCPUS_IMPORTED",
    why:
      "the TD's vCPUs were all imported already (NUM_MIGRATED_VCPUS injected); the session fails",
    world: tdcs,
    setup: (w) => {
      const c = call(w);
      const id = catalog(w.spec).field("td", "NUM_MIGRATED_VCPUS").baseId;
      w.tdState.fields.set(id, BigInt(w.tdState.numVcpus ?? 1));
      return c;
    },
    then: failed,
  },
]);
