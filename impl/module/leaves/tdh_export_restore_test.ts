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
  gpaList,
  migratableAttributes,
  setListEntryBits,
} from "../migration/migration_fixture.ts";
import { abortedWithExportedPages } from "../migration/mem_fixture.ts";
import { migrationOf } from "../migration/session.ts";

const LEAF = "TDH.EXPORT.RESTORE";
const SPEC = new Platform().spec;
const built: WorldOptions = { td: { attributes: migratableAttributes(SPEC) }, vcpus: [{}] };
const TWO = EXPORT_GPAS.slice(0, 2);

/** Both pages exported, the export aborted; a restore list for `gpas`. */
function aborted(w: TdWorld, gpas = TWO, operation = "MIGRATE") {
  abortedWithExportedPages(w.p, w.td, TWO);
  const l = gpaList(w.p, gpas, operation);
  (w as unknown as { list: bigint }).list = l.pa;
  return { inputs: { gpa_list_info: l.info, tdr_pa: w.td.tdr } };
}
function entryStatus(w: TdWorld, i: number): string {
  const pa = (w as unknown as { list: bigint }).list + BigInt(8 * i);
  const raw = new DataView(w.p.cpu.memory.read(pa, 8).buffer).getBigUint64(0, true);
  const f = decodeBits(w.spec.bitfield("GPA_LIST_ENTRY").fields, raw).fields;
  return w.spec.enum("GPA_LIST_ENTRY_STATUS").values.find((v) => BigInt(v.value) === f.status)!
    .name;
}
function firstEntry(w: TdWorld, rcx: bigint): bigint {
  return decodeBits(w.spec.bitfield("GPA_LIST_INFO").fields, rcx).fields.first_entry;
}

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "both exported pages return to MAPPED; MIG_COUNT drops to 0; RCX points past the list",
    world: built,
    setup: (w) => aborted(w),
    then: (w, r) => {
      assert.equal(r.detail, 0n);
      for (const g of TWO) assert.equal(entryAt(w.tdState, 0, g).state, "MAPPED");
      assert.equal(migrationOf(w.tdState).migCount, 0n);
      assert.equal(entryStatus(w, 1), "SUCCESS");
      assert.equal(firstEntry(w, r.out.gpa_list_info), 2n);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a pending exported page returns to PENDING",
    world: built,
    setup: (w) => {
      const c = aborted(w, EXPORT_GPAS.slice(0, 1));
      // A page added PENDING and exported has the pending form of the exported states.
      setState(w.tdState, EXPORT_GPAS[0], 0, "PENDING_EXPORTED_DIRTY");
      return c;
    },
    then: (w) => assert.equal(entryAt(w.tdState, 0, EXPORT_GPAS[0]).state, "PENDING"),
  },
  {
    status: "TDX_SUCCESS",
    why: "a never-exported (FREE) page fails with state incorrect, counted in the detail",
    world: built,
    setup: (w) => aborted(w, EXPORT_GPAS),
    detail: 1n,
    then: (w) => {
      assert.equal(entryStatus(w, 2), "SEPT_ENTRY_STATE_INCORRECT");
      assert.equal(entryAt(w.tdState, 0, EXPORT_GPAS[0]).state, "MAPPED");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "NOP and CANCEL entries are skipped, not counted",
    world: built,
    setup: (w) => aborted(w, EXPORT_GPAS.slice(0, 1), "CANCEL"),
    then: (w) => {
      assert.equal(entryStatus(w, 0), "SKIPPED");
      assert.equal(entryAt(w.tdState, 0, EXPORT_GPAS[0]).state, "EXPORTED_BLOCKEDW");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "an entry whose Secure EPT entry another operation locked fails (host priority)",
    world: built,
    setup: (w) => {
      const c = aborted(w, EXPORT_GPAS.slice(0, 1));
      w.hold(entryLockKey(w.tdState, EXPORT_GPAS[0], 0));
      return c;
    },
    detail: 1n,
    then: (w) => assert.equal(entryStatus(w, 0), "SEPT_ENTRY_BUSY_HOST_PRIORITY"),
  },
  {
    status: "TDX_SUCCESS",
    why: "an entry whose walk stops above 4 KiB fails (walk failed)",
    world: built,
    setup: (w) => aborted(w, [0x2000_0000n]),
    detail: 1n,
    then: (w) => assert.equal(entryStatus(w, 0), "SEPT_WALK_FAILED"),
  },
  ...tdrGateRows(LEAF, {
    operand: "RDX",
    world: built,
    lock: "shared",
    live: aborted,
    opStateHeld: "exclusive",
  }),
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "the TD is not finalized (INITIALIZED)",
    world: built,
    setup: (w) => ({ inputs: { tdr_pa: w.td.tdr } }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "another operation holds the Secure EPT tree exclusively",
    world: built,
    setup: (w) => {
      const c = aborted(w);
      w.hold(lockKey.septTree(w.td.tdr));
      return c;
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "an unknown list format",
    world: built,
    setup: (w) => {
      const c = aborted(w);
      return { inputs: { ...c.inputs, gpa_list_info: BigInt(c.inputs.gpa_list_info) | 1n } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "FIRST_ENTRY above LAST_ENTRY",
    world: built,
    setup: (w) => {
      const c = aborted(w, EXPORT_GPAS.slice(0, 1));
      return {
        inputs: { ...c.inputs, gpa_list_info: BigInt(c.inputs.gpa_list_info) | (1n << 3n) },
      };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "GPA_LIST_ENTRY",
    why: "an entry with a non-zero level",
    world: built,
    setup: (w) => {
      const c = aborted(w, EXPORT_GPAS.slice(0, 1));
      setListEntryBits(w.p, (w as unknown as { list: bigint }).list, 0, 0x1n);
      return c;
    },
    then: (w, r) => {
      assert.equal(entryStatus(w, 0), "GPA_LIST_ENTRY_INVALID");
      assert.equal(firstEntry(w, r.out.gpa_list_info), 0n);
    },
  },
  {
    status: "TDX_INTERRUPTED_RESUMABLE",
    why: "a host interrupt after the first entry: RCX says where to resume",
    world: built,
    setup: (w) => {
      const c = aborted(w);
      w.p.cpu.pendHostInterrupt(0, true);
      return c;
    },
    then: (w, r) => {
      assert.equal(firstEntry(w, r.out.gpa_list_info), 1n);
      assert.equal(entryAt(w.tdState, 0, EXPORT_GPAS[0]).state, "MAPPED");
      assert.equal(entryAt(w.tdState, 0, EXPORT_GPAS[1]).state, "EXPORTED_BLOCKEDW");
    },
  },
]);
