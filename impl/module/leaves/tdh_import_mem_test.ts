import { strict as assert } from "node:assert";
import { decodeBits } from "../../spec/bits.ts";
import { lockKey } from "../locks.ts";
import { catalog } from "../metadata.ts";
import { tdrGateRows, tdStatusTests, type TdWorld } from "../testing/td_status_table.ts";
import { gpaAndLevel } from "../testing/td_fixture.ts";
import { alignDown, entryAt, entryLockKey, septGeometry, setState } from "../sept.ts";
import {
  addStreams,
  resumeCommand,
  runnableMigratableTd,
  startImport,
} from "../migration/migration_fixture.ts";
import { type MemBundle, type MemEntry, sealedMemBundle } from "../migration/mem_import_fixture.ts";
import type { MemBundleOptions } from "../migration/mem_import_fixture.ts";
import { migLockKey, migrationOf } from "../migration/session.ts";

const LEAF = "TDH.IMPORT.MEM";
const tdcs = { td: { stage: "tdcs" as const } };
const GPAS = [0x1000_0000n, 0x1000_1000n];
const NO_SEPT_GPA = 0x4000_0000n;

type W = TdWorld & { b: MemBundle };

/** This world's TD imported a source's immutable state (MEMORY_IMPORT), Secure EPT ready for GPAS. */
function importing(w: TdWorld, streams = 2) {
  addStreams(w.p, w.td.tdr, streams);
  startImport(w.p, runnableMigratableTd(w.p).tdr, w.td.tdr);
  const td = w.tdState;
  for (let l = septGeometry(w.spec, td).maxLevel; l > 0; l--) {
    if (entryAt(td, l, GPAS[0]).state !== "FREE") continue;
    w.ok("TDH.MEM.SEPT.ADD", {
      gpa_and_level: gpaAndLevel(w.p, alignDown(GPAS[0], l), l),
      tdr_and_flags: w.td.tdr,
      sept_page_pa: w.page(),
    });
  }
}

/** A sealed bundle under this TD's session key. */
function bundle(w: TdWorld, entries: MemEntry[], o: MemBundleOptions = {}) {
  const key = migrationOf(w.tdState).migDecWorkingKey;
  const b = sealedMemBundle(w.p, w.td.tdr, key, entries, { newPages: true, ...o });
  (w as W).b = b;
  return { inputs: b.inputs };
}

/** MEMORY_IMPORT and a bundle of two fresh pages (MIGRATE into new pages). */
function fresh(w: TdWorld, entries: MemEntry[] = GPAS.map((gpa) => ({ gpa })), o = {}) {
  importing(w);
  return bundle(w, entries, o);
}

/** The first bundle imported `GPAS[0]` (MAPPED in epoch 0); the epoch is now `epoch`. */
function imported(w: TdWorld, epoch: bigint, o: { pending?: boolean } = {}) {
  importing(w);
  w.ok(LEAF, bundle(w, [{ gpa: GPAS[0], pending: o.pending }]).inputs);
  setEpoch(w, epoch);
}
function setEpoch(w: TdWorld, epoch: bigint) {
  w.tdState.fields.set(catalog(w.spec).field("td", "MIG_EPOCH").baseId, epoch);
}
function second(w: TdWorld, entries: MemEntry[], epoch: number) {
  return bundle(w, entries, { mbCounter: 2, epoch, iv: 300n });
}
/** The post-copy phase (injected): POST_IMPORT, epoch MIG_EPOCH_OUT_OF_ORDER. */
const OUT_OF_ORDER = 0xFFFF_FFFF;
function outOfOrder(w: TdWorld) {
  w.tdState.opState = "OP_STATE_POST_IMPORT";
  setEpoch(w, BigInt(OUT_OF_ORDER));
}

function u64(w: TdWorld, pa: bigint, v: bigint) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  w.p.cpu.memory.write(pa, b);
}
function entryStatusOf(w: TdWorld, i: number): string {
  const raw = new DataView(w.p.cpu.memory.read((w as W).b.listPa + BigInt(8 * i), 8).buffer)
    .getBigUint64(0, true);
  const f = decodeBits(w.spec.bitfield("GPA_LIST_ENTRY").fields, raw).fields;
  return w.spec.enum("GPA_LIST_ENTRY_STATUS").values.find((v) => BigInt(v.value) === f.status)!
    .name;
}
function page(w: TdWorld, gpa: bigint): bigint {
  return entryAt(w.tdState, 0, gpa).hpa;
}
function content(w: TdWorld, gpa: bigint): Uint8Array {
  const mem = w.p.cpu.memory;
  return mem.read(mem.withKeyId(page(w, gpa), w.td.hkid), 4096);
}
const failed = (w: TdWorld) => assert.equal(w.tdState.opState, "OP_STATE_FAILED_IMPORT");
const fatal = (_w: TdWorld, r: { status: bigint }) => assert.equal((r.status >> 61n) & 1n, 1n);
const aborted = (w: TdWorld, r: { status: bigint }) => {
  failed(w);
  fatal(w, r);
};
function withRcx(c: { inputs: Record<string, unknown> }, f: (v: bigint) => bigint) {
  return { inputs: { ...c.inputs, gpa_list_info: f(BigInt(c.inputs.gpa_list_info as bigint)) } };
}

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "two pages decrypted into new pages: MAPPED, PT_REG, import epoch 0",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      (w as W & { children: number }).children = w.tdState.childCount ?? 0;
      return c;
    },
    then: (w, r) => {
      assert.equal(r.detail, 0n);
      for (const [i, gpa] of GPAS.entries()) {
        assert.equal(entryAt(w.tdState, 0, gpa).state, "MAPPED");
        assert.equal(page(w, gpa), (w as W).b.newPages[i]);
        assert.ok(content(w, gpa).every((x) => x === i + 1));
        const pamt = w.state.pamt.get(page(w, gpa));
        assert.equal(pamt.pageType, "PT_REG");
        assert.equal(pamt.importEpoch, 0n);
      }
      assert.equal(w.tdState.childCount, (w as W & { children: number }).children + 2);
      assert.equal(w.tdState.opState, "OP_STATE_MEMORY_IMPORT");
      assert.equal(migrationOf(w.tdState).links[1].migsc.expectedMbCounter, 2);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "in place: the migration buffer becomes the TD page; a pending page is PENDING",
    world: tdcs,
    setup: (w) => {
      importing(w);
      return bundle(w, [{ gpa: GPAS[0] }, { gpa: GPAS[1], pending: true }], { newPages: false });
    },
    then: (w) => {
      const b = (w as W).b;
      assert.equal(page(w, GPAS[0]), b.buffers[0]);
      assert.ok(content(w, GPAS[0]).every((x) => x === 1));
      assert.equal(entryAt(w.tdState, 0, GPAS[1]).state, "PENDING");
      assert.equal(page(w, GPAS[1]), b.buffers[1]);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a NOP entry is skipped (its MAC still verified); no problem counted",
    world: tdcs,
    setup: (w) => fresh(w, [{ gpa: GPAS[0], operation: "NOP" }, { gpa: GPAS[1] }]),
    then: (w, r) => {
      assert.equal(r.detail, 0n);
      assert.equal(entryStatusOf(w, 0), "SKIPPED");
      assert.equal(entryAt(w.tdState, 0, GPAS[0]).state, "FREE");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a later epoch: REMIGRATE overwrites the page, CANCEL of another removes it (REMOVED)",
    world: tdcs,
    setup: (w) => {
      importing(w);
      w.ok(LEAF, bundle(w, GPAS.map((gpa) => ({ gpa }))).inputs);
      setEpoch(w, 1n);
      (w as W & { children: number }).children = w.tdState.childCount ?? 0;
      return second(
        w,
        [{ gpa: GPAS[0], operation: "REMIGRATE", fill: 9 }, { gpa: GPAS[1], operation: "CANCEL" }],
        1,
      );
    },
    then: (w) => {
      assert.ok(content(w, GPAS[0]).every((x) => x === 9));
      assert.equal(w.state.pamt.get(page(w, GPAS[0])).importEpoch, 1n);
      const removed = entryAt(w.tdState, 0, GPAS[1]);
      assert.equal(removed.state, "REMOVED");
      assert.equal(removed.migEpoch, 1n);
      assert.equal(w.tdState.childCount, (w as W & { children: number }).children - 1);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "out of order: an entry whose Secure EPT walk fails is only skipped (a problem)",
    world: tdcs,
    setup: (w) => {
      importing(w);
      outOfOrder(w);
      return bundle(w, [{ gpa: NO_SEPT_GPA }, { gpa: GPAS[0] }], { epoch: OUT_OF_ORDER });
    },
    then: (w, r) => {
      assert.equal(r.detail, 1n);
      assert.equal(entryStatusOf(w, 0), "SEPT_WALK_FAILED");
      assert.equal(entryAt(w.tdState, 0, GPAS[0]).state, "MAPPED");
      assert.equal(w.tdState.opState, "OP_STATE_POST_IMPORT");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "resumed after an interruption with the same operands",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      w.p.cpu.pendHostInterrupt(0, true);
      const r = w.call(LEAF, c);
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
    then: (w) => GPAS.forEach((g) => assert.equal(entryAt(w.tdState, 0, g).state, "MAPPED")),
  },
  {
    status: "TDX_INVALID_PAGE_MAC",
    operand: "GPA_LIST_ENTRY",
    why: "during LIVE_IMPORT a bad page MAC ends the session without the fatal bit: RUNNABLE",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w, [{ gpa: GPAS[0] }], { epoch: OUT_OF_ORDER });
      w.tdState.opState = "OP_STATE_LIVE_IMPORT";
      setEpoch(w, BigInt(OUT_OF_ORDER));
      w.p.cpu.memory.write((w as W).b.macLists[0], new Uint8Array(16));
      return c;
    },
    then: (w, r) => {
      assert.equal(w.tdState.opState, "OP_STATE_RUNNABLE");
      assert.equal((r.status >> 61n) & 1n, 0n);
    },
  },
  ...tdrGateRows(LEAF, {
    operand: "RDX",
    world: tdcs,
    lock: "shared",
    live: fresh,
    opStateHeld: "exclusive",
  }),
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "no import session",
    world: tdcs,
    setup: (w) => ({ inputs: { tdr_pa: w.td.tdr } }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "MIG",
    why: "another operation holds the migration lock exclusively",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      w.hold(migLockKey.mig(w.td.tdr));
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "stream index 1 with one forward stream",
    world: tdcs,
    setup: (w) => ({ inputs: { ...fresh(w).inputs, migs_index_and_cmd: 1n } }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "MIGSC",
    why: "another call holds the forward stream",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      w.hold(migLockKey.migsc(w.td.tdr, 1));
      return c;
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "another operation holds the Secure EPT tree exclusively",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      w.hold(lockKey.septTree(w.td.tdr));
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "FIRST_ENTRY above LAST_ENTRY",
    world: tdcs,
    setup: (w) => withRcx(fresh(w, [{ gpa: GPAS[0] }]), (v) => v | (1n << 3n)),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "a migration buffer list not 4 KiB aligned",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      return { inputs: { ...c.inputs, mig_buff_list_pa: (w as W).b.buffList + 8n } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R11",
    why: "MAC list 0 not 4 KiB aligned",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      return { inputs: { ...c.inputs, mac_list_0_pa: (w as W).b.macLists[0] + 16n } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R12",
    why: "LAST_ENTRY 256 needs MAC list 1, which is not 4 KiB aligned",
    world: tdcs,
    setup: (w) => {
      const c = withRcx(fresh(w), (v) => (v & ~(0x1FFn << 55n)) | (256n << 55n));
      return { inputs: { ...c.inputs, mac_list_1_pa: (w as W).b.macLists[1] + 16n } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R13",
    why: "a new-page list not 4 KiB aligned",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      return { inputs: { ...c.inputs, new_page_list_pa: (w as W).b.newPageList! + 8n } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "an MBMD buffer size below the MBMD",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      return { inputs: { ...c.inputs, mbmd_hpa_and_size: (w as W).b.mbmdPa | (8n << 52n) } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a new command with FIRST_ENTRY 1",
    world: tdcs,
    setup: (w) => withRcx(fresh(w), (v) => v | (1n << 3n)),
  },
  {
    status: "TDX_INVALID_MBMD",
    why: "the bundle's counter is not the stream's next (a replay); the session goes on",
    world: tdcs,
    setup: (w) => fresh(w, undefined, { mbCounter: 0 }),
    then: (w) => assert.equal(w.tdState.opState, "OP_STATE_MEMORY_IMPORT"),
  },
  {
    status: "TDX_INVALID_MBMD",
    why: "out of order, the MBMD's epoch must be MIG_EPOCH_OUT_OF_ORDER",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      outOfOrder(w);
      return c;
    },
  },
  {
    status: "TDX_INCORRECT_MBMD_MAC",
    why: "the MBMD was changed in transit (MB_COUNTER of another key's bundle)",
    world: tdcs,
    setup: (w) => {
      importing(w);
      const b = sealedMemBundle(w.p, w.td.tdr, new Uint8Array(32).fill(7), [{ gpa: GPAS[0] }]);
      (w as W).b = b;
      return { inputs: b.inputs };
    },
    then: (w) => assert.equal(w.tdState.opState, "OP_STATE_MEMORY_IMPORT"),
  },
  {
    status: "TDX_MIGRATION_STREAM_STATE_INCORRECT",
    why: "resume on forward stream 1, never used",
    world: tdcs,
    setup: (w) => {
      importing(w, 3);
      const c = bundle(w, [{ gpa: GPAS[0] }]);
      return { inputs: { ...c.inputs, migs_index_and_cmd: resumeCommand(w.spec) | 1n } };
    },
  },
  {
    status: "TDX_INVALID_RESUMPTION",
    why: "resume with nothing interrupted",
    world: tdcs,
    setup: (w) => ({ inputs: { ...fresh(w).inputs, migs_index_and_cmd: resumeCommand(w.spec) } }),
  },
  {
    status: "TDX_INVALID_RESUMPTION",
    why: "resumed with another new-page list",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      w.p.cpu.pendHostInterrupt(0, true);
      const r = w.call(LEAF, c);
      w.p.cpu.pendHostInterrupt(0, false);
      return {
        inputs: {
          ...c.inputs,
          gpa_list_info: r.out.gpa_list_info,
          new_page_list_pa: w.page(),
          migs_index_and_cmd: resumeCommand(w.spec),
        },
      };
    },
  },
  {
    status: "TDX_INVALID_PAGE_MAC",
    operand: "GPA_LIST_ENTRY",
    why: "a page changed in transit: the session fails (fatal bit)",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      const b = (w as W).b;
      const x = w.p.cpu.memory.read(b.buffers[1], 1);
      w.p.cpu.memory.write(b.buffers[1], Uint8Array.of(x[0] ^ 1));
      return c;
    },
    then: (w, r) => {
      aborted(w, r);
      assert.equal(entryStatusOf(w, 1), "INVALID_PAGE_MAC");
      assert.equal(entryAt(w.tdState, 0, GPAS[1]).state, "FREE");
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "GPA_LIST_ENTRY",
    why: "an entry with a reserved bit: the session fails",
    world: tdcs,
    setup: (w) => fresh(w, [{ gpa: GPAS[0], raw: { reserved_6_3: 1n } }]),
    then: aborted,
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "GPA_LIST_ENTRY",
    why: "in order, a GPA without Secure EPT pages: the session fails",
    world: tdcs,
    setup: (w) => fresh(w, [{ gpa: NO_SEPT_GPA }]),
    then: aborted,
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "GPA_LIST_ENTRY",
    why: "in order, another operation holds the entry: the session fails",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      w.hold(entryLockKey(w.tdState, GPAS[0], 0));
      return c;
    },
    then: aborted,
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "GPA_LIST_ENTRY",
    why: "in order, a BLOCKED entry (injected) no import accepts: the session fails",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      setState(w.tdState, GPAS[0], 0, "BLOCKED");
      return c;
    },
    then: aborted,
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "GPA_LIST_ENTRY",
    why: "MIGRATE onto a page imported by an earlier bundle (MAPPED): the session fails",
    world: tdcs,
    setup: (w) => {
      imported(w, 0n);
      return second(w, [{ gpa: GPAS[0] }], 0);
    },
    then: aborted,
  },
  {
    status: "TDX_EPT_ENTRY_STATE_INCORRECT",
    operand: "GPA_LIST_ENTRY",
    why: "CANCEL of a FREE entry: the session fails",
    world: tdcs,
    setup: (w) => fresh(w, [{ gpa: GPAS[0], operation: "CANCEL" }]),
    then: aborted,
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "out of order, a REMIGRATE: the session fails",
    world: tdcs,
    setup: (w) => {
      imported(w, BigInt(OUT_OF_ORDER));
      w.tdState.opState = "OP_STATE_POST_IMPORT";
      return bundle(w, [{ gpa: GPAS[0], operation: "REMIGRATE" }], { epoch: OUT_OF_ORDER });
    },
    then: aborted,
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "MIG_BUFF_LIST_ENTRY",
    why: "a MIGRATE whose migration buffer is marked invalid: the session fails",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w, [{ gpa: GPAS[0] }]);
      const b = (w as W).b;
      u64(w, b.buffList, b.buffers[0] | (1n << 63n));
      return c;
    },
    then: aborted,
  },
  {
    status: "TDX_DISALLOWED_IMPORT_OVER_REMOVED",
    operand: "GPA_LIST_ENTRY",
    why: "out of order, MIGRATE onto a page TDH.MEM.PAGE.REMOVE removed: the session fails",
    world: tdcs,
    setup: (w) => {
      imported(w, BigInt(OUT_OF_ORDER));
      w.tdState.opState = "OP_STATE_POST_IMPORT";
      w.ok("TDH.MEM.PAGE.REMOVE", {
        gpa_and_level: gpaAndLevel(w.p, GPAS[0], 0),
        tdr_pa: w.td.tdr,
      });
      assert.equal(entryAt(w.tdState, 0, GPAS[0]).state, "REMOVED");
      return bundle(w, [{ gpa: GPAS[0] }], { epoch: OUT_OF_ORDER, iv: 300n });
    },
    then: aborted,
  },
  {
    status: "TDX_SUCCESS",
    why: "MIGRATE onto a page a CANCEL removed in an earlier epoch",
    world: tdcs,
    setup: (w) => {
      imported(w, 1n);
      w.ok(LEAF, second(w, [{ gpa: GPAS[0], operation: "CANCEL" }], 1).inputs);
      setEpoch(w, 2n);
      return bundle(w, [{ gpa: GPAS[0] }], { mbCounter: 3, epoch: 2, iv: 500n });
    },
    then: (w) => assert.equal(entryAt(w.tdState, 0, GPAS[0]).state, "MAPPED"),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "NEW_PAGE_LIST_ENTRY",
    why: "a new page with HKID bits: the session fails",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w, [{ gpa: GPAS[0] }]);
      const b = (w as W).b;
      u64(w, b.newPageList!, w.withHkidBit(b.newPages[0]));
      return c;
    },
    then: aborted,
  },
  {
    status: "TDX_OPERAND_ADDR_RANGE_ERROR",
    operand: "NEW_PAGE_LIST_ENTRY",
    why: "in order, a new page outside TDMR memory: the session fails",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w, [{ gpa: GPAS[0] }]);
      u64(w, (w as W).b.newPageList!, w.outsideTdmrs());
      return c;
    },
    then: aborted,
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "NEW_PAGE_LIST_ENTRY",
    why: "in order, another operation holds the new page's PAMT entry: the session fails",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w, [{ gpa: GPAS[0] }]);
      w.hold(lockKey.page((w as W).b.newPages[0]));
      return c;
    },
    then: aborted,
  },
  {
    status: "TDX_PAGE_METADATA_INCORRECT",
    operand: "NEW_PAGE_LIST_ENTRY",
    why: "in order, the new page is the TDR: the session fails",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w, [{ gpa: GPAS[0] }]);
      u64(w, (w as W).b.newPageList!, w.td.tdr);
      return c;
    },
    then: aborted,
  },
  {
    status: "TDX_MIGRATED_IN_CURRENT_EPOCH",
    operand: "GPA_LIST_ENTRY",
    why: "REMIGRATE of a page imported in this epoch: the session fails",
    world: tdcs,
    setup: (w) => {
      imported(w, 0n);
      return second(w, [{ gpa: GPAS[0], operation: "REMIGRATE" }], 0);
    },
    then: aborted,
  },
  {
    status: "TDX_MIGRATED_IN_CURRENT_EPOCH",
    operand: "GPA_LIST_ENTRY",
    why: "CANCEL of a page imported in this epoch: the session fails",
    world: tdcs,
    setup: (w) => {
      imported(w, 0n);
      return second(w, [{ gpa: GPAS[0], operation: "CANCEL" }], 0);
    },
    then: aborted,
  },
  {
    status: "TDX_IMPORT_MISMATCH",
    operand: "GPA_LIST_ENTRY",
    why: "REMIGRATE as pending of a MAPPED page: the session fails",
    world: tdcs,
    setup: (w) => {
      imported(w, 1n);
      return second(w, [{ gpa: GPAS[0], operation: "REMIGRATE", pending: true }], 1);
    },
    then: aborted,
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "GPA_LIST_ENTRY",
    why: "CANCEL while another operation holds the page's PAMT entry: the session fails",
    world: tdcs,
    setup: (w) => {
      imported(w, 1n);
      w.hold(lockKey.page(page(w, GPAS[0])));
      return second(w, [{ gpa: GPAS[0], operation: "CANCEL" }], 1);
    },
    then: aborted,
  },
  {
    status: "TDX_INTERRUPTED_RESUMABLE",
    why: "a host interrupt after the first of two entries",
    world: tdcs,
    setup: (w) => {
      const c = fresh(w);
      w.p.cpu.pendHostInterrupt(0, true);
      return c;
    },
    then: (w, r) => {
      assert.equal(
        decodeBits(w.spec.bitfield("GPA_LIST_INFO").fields, r.out.gpa_list_info).fields.first_entry,
        1n,
      );
      assert.equal(entryAt(w.tdState, 0, GPAS[0]).state, "MAPPED");
      assert.equal(entryAt(w.tdState, 0, GPAS[1]).state, "FREE");
    },
  },
]);
