import { strict as assert } from "node:assert";
import { decodeBits, encodeBits } from "../../spec/bits.ts";
import { lockKey } from "../locks.ts";
import {
  blockTd,
  dropTdcsPages,
  elementLock,
  fatalWorld,
  fieldId,
  opStateLock,
  runToFatal,
  withIdFields,
} from "../testing/td_rows.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";

const LEAF = "TDH.VP.WR";
const ALL = 0xFFFF_FFFF_FFFF_FFFFn;
const one = { vcpus: [{}] };
const call = (
  w: TdWorld,
  field: bigint,
  value: bigint,
  o: { tdvpr?: bigint; mask?: bigint; lp?: number } = {},
) => ({
  inputs: { tdvpr_pa: o.tdvpr ?? w.vcpu, field_id: field, value, write_mask: o.mask ?? ALL },
  lp: o.lp ?? 0,
});
const window = (w: TdWorld) => fieldId(w, "vcpu", "NOTIFY_WINDOW");
const pinBased = (w: TdWorld) => fieldId(w, "vcpu", "PIN_BASED_VM_EXEC_CONTROL");
const postedInterrupts = (w: TdWorld) =>
  encodeBits(w.spec.bitfield("PIN_BASED_VM_EXEC_CONTROL").fields, {
    PROCESS_POSTED_INTERRUPTS: 1n,
  });
/** The VMCS encoding (field code) of a TD VMCS field. */
const encoding = (w: TdWorld, name: string) =>
  decodeBits(w.spec.bitfield("MD_FIELD_ID").fields, fieldId(w, "vcpu", name)).fields.FIELD_CODE;

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "NOTIFY_WINDOW, then the old value comes back",
    world: one,
    setup: (w) => {
      w.ok(LEAF, call(w, window(w), 100n).inputs);
      return call(w, window(w), 200n);
    },
    then: (_w, r) => assert.equal(r.out.old_value, 100n),
  },
  {
    status: "TDX_SUCCESS",
    why: "posted interrupts once the vector and descriptor are set",
    world: one,
    setup: (w) => {
      w.ok(LEAF, call(w, fieldId(w, "vcpu", "POSTED_INTR_NV"), 0xF2n).inputs);
      // Only bits 63:6 are host-writable (the descriptor is 64-byte aligned).
      const pid = call(w, fieldId(w, "vcpu", "POSTED_INTR_DESC_ADDR"), 0x1_0000n, {
        mask: ALL << 6n & ALL,
      });
      w.ok(LEAF, pid.inputs);
      return call(w, pinBased(w), postedInterrupts(w));
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w, 0n, 0n, { tdvpr: w.page() })),
  ...hpaRows({
    operand: "RCX",
    what: "TDVPR",
    world: one,
    call: (w, pa) => call(w, window(w), 1n, { tdvpr: pa }),
    page: (w) => w.vcpu,
    wrongPage: (w) => w.td.tdr,
    lock: "shared",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_OPERAND_BUSY",
    operand: "TDR",
    why: "the owner TDR is locked exclusively",
    world: one,
    setup: (w) => {
      w.hold(lockKey.page(w.td.tdr));
      return call(w, window(w), 1n);
    },
  },
  {
    status: "TDX_TD_FATAL",
    why: "a non-recoverable TD exit made the TD fatal",
    world: fatalWorld,
    setup: (w) => {
      runToFatal(w);
      return call(w, window(w), 1n);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "the TD was blocked by TDH.MNG.VPFLUSHDONE",
    world: one,
    setup: (w) => {
      w.ok("TDH.VP.FLUSH", { tdvpr_pa: w.vcpu });
      blockTd(w);
      return call(w, window(w), 1n);
    },
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "fewer TDCS pages than the minimum (injected)",
    world: one,
    setup: (w) => {
      dropTdcsPages(w);
      return call(w, window(w), 1n);
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "the OP_STATE lock is held exclusively",
    world: one,
    setup: (w) => {
      w.hold(opStateLock(w));
      return call(w, window(w), 1n);
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "PAUSED_EXPORT (injected: the model does not migrate TDs)",
    world: one,
    setup: (w) => {
      w.tdState.opState = "OP_STATE_PAUSED_EXPORT";
      return call(w, window(w), 1n);
    },
  },
  {
    status: "TDX_TDCX_NUM_INCORRECT",
    why: "a created vCPU with only its TDVPR",
    world: { vcpus: [{ init: false, tdvpsPages: 1 }] },
    setup: (w) => call(w, window(w), 1n),
  },
  {
    status: "TDX_VCPU_STATE_INCORRECT",
    why: "a vCPU disabled by a non-recoverable exit",
    world: { vcpus: [{}], finalize: true },
    setup: (w) => {
      assert.equal(w.enter().name, "TDX_NON_RECOVERABLE_VCPU");
      return call(w, window(w), 1n);
    },
  },
  {
    status: "TDX_VCPU_ASSOCIATED",
    why: "associated with LP 0, written on LP 1",
    world: one,
    setup: (w) => call(w, window(w), 1n, { lp: 1 }),
  },
  {
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
    why: "no vCPU field has this code",
    world: one,
    setup: (w) => call(w, withIdFields(w, window(w), { FIELD_CODE: 0x7FFn }), 1n),
  },
  {
    status: "TDX_METADATA_FIELD_NOT_WRITABLE",
    why: "VCPU_INDEX is read-only",
    world: one,
    setup: (w) => call(w, fieldId(w, "vcpu", "VCPU_INDEX"), 1n),
  },
  {
    status: "TDX_METADATA_FIELD_VALUE_NOT_VALID",
    why: "pin-based controls: a bit outside the host-writable one would change",
    world: one,
    setup: (w) => call(w, pinBased(w), 0x1n, { mask: 0x81n }),
  },
  {
    status: "TDX_TD_VMCS_FIELD_NOT_INITIALIZED",
    detail: (w) => encoding(w, "POSTED_INTR_NV"),
    why: "posted interrupts before the notification vector is set",
    world: one,
    setup: (w) => call(w, pinBased(w), postedInterrupts(w)),
  },
  {
    status: "TDX_TD_VMCS_FIELD_NOT_INITIALIZED",
    detail: (w) => encoding(w, "POSTED_INTR_DESC_ADDR"),
    why: "posted interrupts before the descriptor address is set",
    world: one,
    setup: (w) => {
      w.ok(LEAF, call(w, fieldId(w, "vcpu", "POSTED_INTR_NV"), 0xF2n).inputs);
      return call(w, pinBased(w), postedInterrupts(w));
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "METADATA_FIELD",
    why: "the element is being written concurrently",
    world: one,
    setup: (w) => {
      w.hold(elementLock(w, "vcpu", "NOTIFY_WINDOW"));
      return call(w, window(w), 1n);
    },
  },
]);
