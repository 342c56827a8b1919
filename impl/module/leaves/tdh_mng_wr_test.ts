import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import {
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

const LEAF = "TDH.MNG.WR";
const ALL = 0xFFFF_FFFF_FFFF_FFFFn;
const call = (w: TdWorld, field: bigint, value: bigint, mask = ALL, tdr = w.td.tdr) => ({
  inputs: { tdr_pa: tdr, field_id: field, value, write_mask: mask },
});
/** HP_LOCK_TIMEOUT: host-writable, whole-field writes only. */
const timeout = (w: TdWorld) => fieldId(w, "td", "HP_LOCK_TIMEOUT");

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "HP_LOCK_TIMEOUT written whole; the old value comes back",
    setup: (w) => {
      // Microseconds, 10 ms to 100 s; the module keeps TSC ticks and converts back.
      w.ok(LEAF, call(w, timeout(w), 20_000n).inputs);
      return call(w, timeout(w), 30_000n);
    },
    then: (w, r) => {
      assert.equal(r.out.old_value, 20_000n);
      const rd = w.ok("TDH.MNG.RD", { tdr_pa: w.td.tdr, field_id: timeout(w) });
      assert.equal(rd.out.value, 30_000n);
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w, 0n, 0n)),
  ...hpaRows({
    operand: "RCX",
    what: "TDR",
    call: (w, pa) => call(w, timeout(w), 1n, ALL, pa),
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.td.tdcx[0],
    lock: "shared",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_TD_FATAL",
    why: "a non-recoverable TD exit made the TD fatal",
    world: fatalWorld,
    setup: (w) => {
      runToFatal(w);
      return call(w, timeout(w), 1n);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "keys not configured",
    world: { td: { stage: "created" } },
    setup: (w) => call(w, timeout(w), 1n),
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "no TDCS pages",
    world: { td: { stage: "keys" } },
    setup: (w) => call(w, timeout(w), 1n),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "the OP_STATE lock is held exclusively",
    setup: (w) => {
      w.hold(opStateLock(w));
      return call(w, timeout(w), 1n);
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "TDH.MNG.INIT not done",
    world: { td: { stage: "tdcs" } },
    setup: (w) => call(w, timeout(w), 1n),
  },
  {
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
    why: "LAST_FIELD_IN_SEQUENCE not 0",
    setup: (w) => call(w, withIdFields(w, timeout(w), { LAST_FIELD_IN_SEQUENCE: 1n }), 1n),
  },
  {
    status: "TDX_METADATA_FIELD_NOT_WRITABLE",
    why: "ATTRIBUTES is read-only for the host",
    setup: (w) => call(w, fieldId(w, "td", "ATTRIBUTES"), 1n),
  },
  {
    status: "TDX_METADATA_FIELD_VALUE_NOT_VALID",
    why: "VM_CTLS: the mask asks to change a bit the host may not write",
    setup: (w) => call(w, fieldId(w, "td", "VM_CTLS"), 0x2n, 0x3n),
  },
  {
    status: "TDX_METADATA_FIELD_VALUE_NOT_VALID",
    why: "HP_LOCK_TIMEOUT below 10 ms",
    setup: (w) => call(w, timeout(w), 9_999n),
  },
  {
    status: "TDX_METADATA_WR_MASK_NOT_VALID",
    why: "HP_LOCK_TIMEOUT written with a partial mask",
    setup: (w) => call(w, timeout(w), 5n, 0xFFn),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "METADATA_FIELD",
    why: "the element is being written concurrently",
    setup: (w) => {
      w.hold(elementLock(w, "td", "HP_LOCK_TIMEOUT"));
      return call(w, timeout(w), 1n);
    },
  },
]);
