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
import { entryAt, entryLockKey } from "../sept.ts";
import {
  EXPORT_GPAS,
  gpaList,
  liveExportWithPages,
  migratableAttributes,
  setListEntryBits,
} from "../migration/migration_fixture.ts";

const LEAF = "TDH.EXPORT.BLOCKW";
const SPEC = new Platform().spec;
const built: WorldOptions = { td: { attributes: migratableAttributes(SPEC) }, vcpus: [{}] };

function live(w: TdWorld, gpas = EXPORT_GPAS.slice(0, 2), operation = "MIGRATE") {
  liveExportWithPages(w.p, w.td);
  const l = gpaList(w.p, gpas, operation);
  (w as unknown as { list: bigint }).list = l.pa;
  return { inputs: { gpa_list_info: l.info, tdr_pa: w.td.tdr } };
}
/** A list of one MIGRATE entry with `bits` set besides. */
function oneEntryWith(bits: bigint) {
  return (w: TdWorld) => {
    const c = live(w, EXPORT_GPAS.slice(0, 1));
    setListEntryBits(w.p, (w as unknown as { list: bigint }).list, 0, bits);
    return c;
  };
}

function entryStatus(w: TdWorld, i: number): string {
  const pa = (w as unknown as { list: bigint }).list + BigInt(8 * i);
  const raw = new DataView(w.p.cpu.memory.read(pa, 8).buffer).getBigUint64(0, true);
  const f = decodeBits(w.spec.bitfield("GPA_LIST_ENTRY").fields, raw).fields;
  return w.spec.enum("GPA_LIST_ENTRY_STATUS").values.find((v) => BigInt(v.value) === f.status)!
    .name;
}

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "both MAPPED pages become BLOCKEDW; no failed entry",
    world: built,
    setup: (w) => live(w),
    then: (w, r) => {
      assert.equal(r.detail, 0n);
      for (const g of EXPORT_GPAS.slice(0, 2)) {
        assert.equal(entryAt(w.tdState, 0, g).state, "BLOCKEDW");
      }
      assert.equal(entryStatus(w, 0), "SUCCESS");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a FREE page's entry fails (state incorrect) and is counted in the detail",
    world: built,
    setup: (w) => live(w, EXPORT_GPAS),
    detail: 1n,
    then: (w) => {
      assert.equal(entryStatus(w, 2), "SEPT_ENTRY_STATE_INCORRECT");
      assert.equal(entryAt(w.tdState, 0, EXPORT_GPAS[0]).state, "BLOCKEDW");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "CANCEL entries are skipped, not counted",
    world: built,
    setup: (w) => live(w, EXPORT_GPAS.slice(0, 1), "CANCEL"),
    then: (w) => {
      assert.equal(entryStatus(w, 0), "SKIPPED");
      assert.equal(entryAt(w.tdState, 0, EXPORT_GPAS[0]).state, "MAPPED");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "an entry whose Secure EPT entry another operation locked fails (host priority)",
    world: built,
    setup: (w) => {
      const c = live(w, EXPORT_GPAS.slice(0, 1));
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
    setup: (w) => live(w, [0x2000_0000n]),
    detail: 1n,
    then: (w) => assert.equal(entryStatus(w, 0), "SEPT_WALK_FAILED"),
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
    why: "an unknown list format",
    world: built,
    setup: (w) => {
      const c = live(w);
      return { inputs: { ...c.inputs, gpa_list_info: BigInt(c.inputs.gpa_list_info) | 1n } };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "FIRST_ENTRY above LAST_ENTRY",
    world: built,
    setup: (w) => {
      const c = live(w, EXPORT_GPAS.slice(0, 1));
      return {
        inputs: { ...c.inputs, gpa_list_info: BigInt(c.inputs.gpa_list_info) | (1n << 3n) },
      };
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "GPA_LIST_ENTRY",
    why: "an entry with a reserved bit set",
    world: built,
    setup: oneEntryWith(0x8n),
    then: (w, r) => {
      assert.equal(entryStatus(w, 0), "GPA_LIST_ENTRY_INVALID");
      assert.equal(r.out.gpa_list_info & 0xFF8n, 0n);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "an entry with PENDING, L2_MAP and MIG_TYPE set: only reserved bits and the level count",
    world: built,
    // PENDING (bit 2), L2_MAP (bits 9:7), MIG_TYPE (bits 11:10).
    setup: oneEntryWith(0xF84n),
    then: (w, r) => {
      assert.equal(r.detail, 0n);
      assert.equal(entryStatus(w, 0), "SUCCESS");
      assert.equal(entryAt(w.tdState, 0, EXPORT_GPAS[0]).state, "BLOCKEDW");
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
      const f = decodeBits(w.spec.bitfield("GPA_LIST_INFO").fields, r.out.gpa_list_info).fields;
      assert.equal(f.first_entry, 1n);
      assert.equal(entryAt(w.tdState, 0, EXPORT_GPAS[1]).state, "MAPPED");
    },
  },
]);
