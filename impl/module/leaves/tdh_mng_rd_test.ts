import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { FIELD_ID_NA } from "../metadata.ts";
import { fatalWorld, fieldId, opStateLock, runToFatal, withIdFields } from "../testing/td_rows.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";

const LEAF = "TDH.MNG.RD";
const call = (w: TdWorld, field: bigint, o: { tdr?: bigint; version?: number } = {}) => ({
  inputs: { tdr_pa: o.tdr ?? w.td.tdr, field_id: field },
  version: o.version ?? 1,
});
const attributes = (w: TdWorld) => fieldId(w, "td", "ATTRIBUTES");

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "ATTRIBUTES of a debug TD, with the next field id (version 1)",
    world: { td: { debug: true } },
    setup: (w) => call(w, attributes(w)),
    then: (w, r) => {
      assert.equal(r.out.value, w.tdState.attributes);
      assert.notEqual(r.out.next_field_id, FIELD_ID_NA);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "version 0 leaves RDX as it was",
    setup: (w) => call(w, fieldId(w, "td", "MAX_VCPUS"), { version: 0 }),
    then: (w, r) => {
      assert.equal(r.out.value, 4n);
      assert.equal(r.out.next_field_id, fieldId(w, "td", "MAX_VCPUS"));
    },
  },
  {
    status: "TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT",
    why: "version 1 with -1 asks for the first readable field",
    setup: (w) => call(w, FIELD_ID_NA),
    then: (_w, r) => {
      assert.notEqual(r.out.next_field_id, FIELD_ID_NA);
      assert.equal(r.out.value, 0n);
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w, 0n)),
  ...hpaRows({
    operand: "RCX",
    what: "TDR",
    call: (w, pa) => call(w, attributes(w), { tdr: pa }),
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
      return call(w, attributes(w));
    },
    then: (_w, r) => assert.equal(r.out.value, 0n),
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "keys not configured",
    world: { td: { stage: "created" } },
    setup: (w) => call(w, attributes(w)),
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "no TDCS pages",
    world: { td: { stage: "keys" } },
    setup: (w) => call(w, attributes(w)),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "the OP_STATE lock is held exclusively",
    setup: (w) => {
      w.hold(opStateLock(w));
      return call(w, attributes(w));
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "TDH.MNG.INIT not done",
    world: { td: { stage: "tdcs" } },
    setup: (w) => call(w, attributes(w)),
  },
  {
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
    why: "LAST_ELEMENT_IN_FIELD not 0",
    setup: (w) => call(w, withIdFields(w, attributes(w), { LAST_ELEMENT_IN_FIELD: 1n })),
  },
  {
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
    why: "no TD field has this code",
    setup: (w) => call(w, withIdFields(w, attributes(w), { FIELD_CODE: 0x7FFn })),
  },
  {
    status: "TDX_METADATA_FIELD_NOT_READABLE",
    why: "the RTMRs are readable by the host only for a debug TD",
    setup: (w) => call(w, fieldId(w, "td", "RTMR")),
  },
  {
    status: "TDX_SUCCESS",
    why: "... which this one is",
    world: { td: { debug: true } },
    setup: (w) => call(w, fieldId(w, "td", "RTMR")),
  },
]);
