import { strict as assert } from "node:assert";
import { decodeBits } from "../../spec/bits.ts";
import { lockKey } from "../locks.ts";
import { Platform } from "../testing/fixture.ts";
import {
  tdrGateRows,
  tdStatusTests,
  type TdWorld,
  type WorldOptions,
} from "../testing/td_status_table.ts";
import { entryAt, entryLockKey, setState } from "../sept.ts";
import {
  EXPORT_GPAS,
  liveExportWithPages,
  migratableAttributes,
  resumeCommand,
  setListEntryBits,
} from "../migration/migration_fixture.ts";
import { blockAndTrack, type MemExport, memExportInputs } from "../migration/mem_fixture.ts";
import { migLockKey, migrationOf } from "../migration/session.ts";
import { bundleIv, GcmStream } from "../migration/bundle_crypto.ts";
import { decodeMbmd, mbmdHeader } from "../migration/mbmd.ts";

const LEAF = "TDH.EXPORT.MEM";
const SPEC = new Platform().spec;
const built: WorldOptions = { td: { attributes: migratableAttributes(SPEC) }, vcpus: [{}] };
const TWO = EXPORT_GPAS.slice(0, 2);

type W = TdWorld & { ex: MemExport };

/** LIVE_EXPORT with both pages blocked and tracked (unless `block` is false). */
function live(w: TdWorld, gpas = TWO, operation = "MIGRATE", block = true) {
  liveExportWithPages(w.p, w.td);
  if (block) blockAndTrack(w.p, w.td.tdr, TWO);
  const ex = memExportInputs(w.p, w.td.tdr, gpas, operation);
  (w as W).ex = ex;
  return { inputs: ex.inputs };
}
function paused(w: TdWorld, gpas = TWO, operation = "MIGRATE") {
  const c = live(w, gpas, operation, false);
  w.tdState.opState = "OP_STATE_PAUSED_EXPORT";
  return c;
}
function entryStatus(w: TdWorld, i: number): string {
  const pa = (w as W).ex.list.pa + BigInt(8 * i);
  const raw = new DataView(w.p.cpu.memory.read(pa, 8).buffer).getBigUint64(0, true);
  const f = decodeBits(w.spec.bitfield("GPA_LIST_ENTRY").fields, raw).fields;
  return w.spec.enum("GPA_LIST_ENTRY_STATUS").values.find((v) => BigInt(v.value) === f.status)!
    .name;
}
function firstEntry(w: TdWorld, rcx: bigint): bigint {
  return decodeBits(w.spec.bitfield("GPA_LIST_INFO").fields, rcx).fields.first_entry;
}
function withRcx(c: { inputs: Record<string, unknown> }, f: (v: bigint) => bigint) {
  return { inputs: { ...c.inputs, gpa_list_info: f(BigInt(c.inputs.gpa_list_info as bigint)) } };
}

/** Entry `i`'s buffer decrypts, under the session key and the entry's IV, to `fill`. */
function assertPage(w: TdWorld, i: number, fill: number) {
  const ex = (w as W).ex;
  const mem = w.p.cpu.memory;
  const h = mbmdHeader(decodeMbmd(w.spec, "MBMD_MEM", mem.read(ex.mbmd.pa, 48)));
  const iv = (h.iv_counter as bigint) + 1n + BigInt(i);
  const gcm = new GcmStream(
    migrationOf(w.tdState).migEncWorkingKey,
    bundleIv(w.spec, iv, 0),
    "decrypt",
  );
  gcm.aad(mem.read(ex.list.pa + BigInt(8 * i), 8));
  const page = gcm.update(mem.read(ex.buffers[i], 4096));
  assert.ok(page.every((b) => b === fill));
  assert.ok(gcm.verify(mem.read(ex.macLists[0] + BigInt(16 * i), 16)));
}

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "live export of two blocked, tracked pages: EXPORTED_BLOCKEDW, encrypted and MAC'ed",
    world: built,
    setup: (w) => live(w),
    then: (w, r) => {
      assert.equal(r.detail, 0n);
      for (const g of TWO) assert.equal(entryAt(w.tdState, 0, g).state, "EXPORTED_BLOCKEDW");
      assert.equal(migrationOf(w.tdState).migCount, 2n);
      // GPA list + MAC list 0 + two pages.
      assert.equal(r.out.num_buffers, 4n);
      assert.equal(firstEntry(w, r.out.gpa_list_info), 2n);
      assertPage(w, 0, 1);
      assertPage(w, 1, 2);
      const h = mbmdHeader(
        decodeMbmd(w.spec, "MBMD_MEM", w.p.cpu.memory.read((w as W).ex.mbmd.pa, 48)),
      );
      assert.equal(h.mb_type, Number(w.spec.enumValue("MB_TYPE", "MEM")));
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "live export of a page not write-blocked fails (state incorrect); a FREE page too",
    world: built,
    setup: (w) => live(w, EXPORT_GPAS, "MIGRATE", false),
    detail: 3n,
    then: (w) => {
      assert.equal(entryStatus(w, 0), "SEPT_ENTRY_STATE_INCORRECT");
      assert.equal(entryStatus(w, 2), "SEPT_ENTRY_STATE_INCORRECT");
      assert.equal(entryAt(w.tdState, 0, TWO[0]).state, "MAPPED");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "blocked but not TLB-tracked: the entry fails with TLB_TRACKING_NOT_DONE",
    world: built,
    setup: (w) => {
      const c = live(w, TWO, "MIGRATE", false);
      for (const g of TWO) setState(w.tdState, g, 0, "BLOCKEDW");
      migrationOf(w.tdState).bwEpoch = w.tdState.epoch;
      return c;
    },
    detail: 2n,
    then: (w) => assert.equal(entryStatus(w, 1), "TLB_TRACKING_NOT_DONE"),
  },
  {
    status: "TDX_SUCCESS",
    why: "paused (in-order) export of MAPPED pages; CANCEL then returns one to MAPPED",
    world: built,
    setup: (w) => {
      const c = paused(w);
      const r = w.p.seamcall(LEAF, c.inputs);
      assert.equal(r.name, "TDX_SUCCESS");
      const ex = memExportInputs(w.p, w.td.tdr, TWO.slice(0, 1), "CANCEL");
      (w as W).ex = ex;
      return { inputs: ex.inputs };
    },
    then: (w) => {
      assert.equal(entryAt(w.tdState, 0, TWO[0]).state, "MAPPED");
      assert.equal(entryAt(w.tdState, 0, TWO[1]).state, "EXPORTED_BLOCKEDW");
      assert.equal(migrationOf(w.tdState).migCount, 1n);
      assert.equal(entryStatus(w, 0), "SUCCESS");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a dirty exported page is re-exported (REMIGRATE); DIRTY_COUNT drops",
    world: built,
    setup: (w) => {
      const c = paused(w, TWO.slice(0, 1));
      setState(w.tdState, TWO[0], 0, "EXPORTED_DIRTY");
      const m = migrationOf(w.tdState);
      m.migCount = 1n;
      m.dirtyCount = 1n;
      return c;
    },
    then: (w) => {
      const m = migrationOf(w.tdState);
      assert.equal(m.dirtyCount, 0n);
      assert.equal(m.migCount, 1n);
      const raw = new DataView(w.p.cpu.memory.read((w as W).ex.list.pa, 8).buffer)
        .getBigUint64(0, true);
      const f = decodeBits(w.spec.bitfield("GPA_LIST_ENTRY").fields, raw).fields;
      assert.equal(f.operation, w.spec.enumValue("GPA_LIST_ENTRY_OPERATION", "REMIGRATE"));
      assertPage(w, 0, 1);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a pending page is exported without a buffer (PENDING_EXPORTED_BLOCKEDW)",
    world: built,
    setup: (w) => {
      const c = paused(w, TWO.slice(0, 1));
      setState(w.tdState, TWO[0], 0, "PENDING");
      return c;
    },
    then: (w, r) => {
      assert.equal(entryAt(w.tdState, 0, TWO[0]).state, "PENDING_EXPORTED_BLOCKEDW");
      assert.equal(r.out.num_buffers, 2n);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a page whose migration buffer is marked invalid fails (MIG_BUFFER_NOT_AVAILABLE)",
    world: built,
    setup: (w) => {
      const c = paused(w, TWO.slice(0, 1));
      const b = w.p.cpu.memory.read((w as W).ex.buffList, 8);
      b[7] |= 0x80;
      w.p.cpu.memory.write((w as W).ex.buffList, b);
      return c;
    },
    detail: 1n,
    then: (w) => {
      assert.equal(entryStatus(w, 0), "MIG_BUFFER_NOT_AVAILABLE");
      assert.equal(entryAt(w.tdState, 0, TWO[0]).state, "MAPPED");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "out of order (POST_EXPORT), CANCEL fails with OP_STATE_INCORRECT",
    world: built,
    setup: (w) => {
      const c = live(w, TWO.slice(0, 1), "CANCEL", false);
      w.tdState.opState = "OP_STATE_POST_EXPORT";
      return c;
    },
    detail: 1n,
    then: (w) => assert.equal(entryStatus(w, 0), "OP_STATE_INCORRECT"),
  },
  {
    status: "TDX_SUCCESS",
    why: "NOP entries are skipped; a locked entry and a walk failure count",
    world: built,
    setup: (w) => {
      const c = paused(w, [TWO[0], 0x2000_0000n, TWO[1]]);
      const list = (w as W).ex.list.pa;
      const b = w.p.cpu.memory.read(list, 8);
      b[6] &= ~0x30; // operation NOP
      w.p.cpu.memory.write(list, b);
      w.hold(entryLockKey(w.tdState, TWO[1], 0));
      return c;
    },
    detail: 2n,
    then: (w) => {
      assert.equal(entryStatus(w, 0), "SKIPPED");
      assert.equal(entryStatus(w, 1), "SEPT_WALK_FAILED");
      assert.equal(entryStatus(w, 2), "SEPT_ENTRY_BUSY_HOST_PRIORITY");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "an interrupted export resumes where it stopped with the returned operands",
    world: built,
    setup: (w) => {
      const c = live(w);
      w.p.cpu.pendHostInterrupt(0, true);
      const r = w.p.seamcall(LEAF, c.inputs);
      assert.equal(r.name, "TDX_INTERRUPTED_RESUMABLE");
      w.p.cpu.pendHostInterrupt(0, false);
      return {
        inputs: {
          ...c.inputs,
          gpa_list_info: r.out.gpa_list_info,
          migs_index_and_cmd: resumeCommand(w.spec),
        },
      };
    },
    then: (w, r) => {
      assert.equal(r.out.num_buffers, 4n);
      assertPage(w, 1, 2);
    },
  },
  ...tdrGateRows(LEAF, {
    operand: "RDX",
    world: built,
    lock: "shared",
    live: live,
    opStateHeld: "exclusive",
  }),
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "no export session (INITIALIZED)",
    world: built,
    setup: (w) => ({ inputs: { tdr_pa: w.td.tdr } }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "MIG",
    why: "another operation holds the migration lock exclusively",
    world: built,
    setup: (w) => {
      const c = live(w);
      w.hold(migLockKey.mig(w.td.tdr));
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "stream index 1 with only one forward stream",
    world: built,
    setup: (w) => ({ inputs: { ...live(w).inputs, migs_index_and_cmd: 1n } }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "a reserved bit of R10 set",
    world: built,
    setup: (w) => ({ inputs: { ...live(w).inputs, migs_index_and_cmd: 1n << 20n } }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "MIGSC",
    why: "another call holds the forward stream",
    world: built,
    setup: (w) => {
      const c = live(w);
      w.hold(migLockKey.migsc(w.td.tdr, 1));
      return c;
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "another operation holds the Secure EPT tree exclusively",
    world: built,
    setup: (w) => {
      const c = live(w);
      w.hold(lockKey.septTree(w.td.tdr));
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "FIRST_ENTRY above LAST_ENTRY",
    world: built,
    setup: (w) => withRcx(live(w, TWO.slice(0, 1)), (v) => v | (1n << 3n)),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "a migration buffer list not 4 KiB aligned",
    world: built,
    setup: (w) => {
      const c = live(w);
      return { inputs: { ...c.inputs, mig_buff_list_pa: (w as W).ex.buffList + 8n } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R11",
    why: "MAC list 0 not 4 KiB aligned",
    world: built,
    setup: (w) => {
      const c = live(w);
      return { inputs: { ...c.inputs, mac_list_0_pa: (w as W).ex.macLists[0] + 16n } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R12",
    why: "LAST_ENTRY 256 needs MAC list 1, which is not 4 KiB aligned",
    world: built,
    setup: (w) => {
      const c = withRcx(live(w), (v) => (v & ~(0x1FFn << 55n)) | (256n << 55n));
      return { inputs: { ...c.inputs, mac_list_1_pa: (w as W).ex.macLists[1] + 16n } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "an MBMD buffer size below the MBMD",
    world: built,
    setup: (w) => {
      const c = live(w);
      return { inputs: { ...c.inputs, mbmd_hpa_and_size: (w as W).ex.mbmd.pa | (8n << 52n) } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a new command with FIRST_ENTRY 1",
    world: built,
    setup: (w) => withRcx(live(w), (v) => v | (1n << 3n)),
  },
  {
    status: "TDX_MIGRATION_STREAM_STATE_INCORRECT",
    why: "resume on a forward stream never initialized (poked uninitialized)",
    world: built,
    setup: (w) => {
      const c = live(w);
      migrationOf(w.tdState).links[1].initialized = false;
      return { inputs: { ...c.inputs, migs_index_and_cmd: resumeCommand(w.spec) } };
    },
  },
  {
    status: "TDX_INVALID_RESUMPTION",
    why: "resume without an interrupted export",
    world: built,
    setup: (w) => ({ inputs: { ...live(w).inputs, migs_index_and_cmd: resumeCommand(w.spec) } }),
  },
  {
    status: "TDX_INVALID_RESUMPTION",
    why: "resume with another migration buffer list than the interrupted call's",
    world: built,
    setup: (w) => {
      const c = live(w);
      w.p.cpu.pendHostInterrupt(0, true);
      const r = w.p.seamcall(LEAF, c.inputs);
      assert.equal(r.name, "TDX_INTERRUPTED_RESUMABLE");
      w.p.cpu.pendHostInterrupt(0, false);
      return {
        inputs: {
          ...c.inputs,
          gpa_list_info: r.out.gpa_list_info,
          mig_buff_list_pa: w.p.allocPage(),
          migs_index_and_cmd: resumeCommand(w.spec),
        },
      };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "GPA_LIST_ENTRY",
    why: "an entry with a reserved bit set",
    world: built,
    setup: (w) => {
      const c = live(w, TWO.slice(0, 1));
      setListEntryBits(w.p, (w as W).ex.list.pa, 0, 0x8n);
      return c;
    },
    then: (w, r) => {
      assert.equal(entryStatus(w, 0), "GPA_LIST_ENTRY_INVALID");
      assert.equal(firstEntry(w, r.out.gpa_list_info), 0n);
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "MIG_BUFF_LIST_ENTRY",
    why: "a page's migration buffer carries a private HKID",
    world: built,
    setup: (w) => {
      const c = live(w, TWO.slice(0, 1));
      const ex = (w as W).ex;
      const mem = w.p.cpu.memory;
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, mem.withKeyId(ex.buffers[0], w.tdState.hkid), true);
      mem.write(ex.buffList, b);
      return c;
    },
  },
  {
    status: "TDX_INTERRUPTED_RESUMABLE",
    why: "a host interrupt after the first entry: RCX says where to resume",
    world: built,
    setup: (w) => {
      const c = live(w);
      w.p.cpu.pendHostInterrupt(0, true);
      return c;
    },
    then: (w, r) => {
      assert.equal(firstEntry(w, r.out.gpa_list_info), 1n);
      assert.equal(entryAt(w.tdState, 0, TWO[0]).state, "EXPORTED_BLOCKEDW");
      assert.equal(entryAt(w.tdState, 0, TWO[1]).state, "BLOCKEDW");
    },
  },
]);
