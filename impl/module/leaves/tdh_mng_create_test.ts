import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";

const LEAF = "TDH.MNG.CREATE";
const call = (w: TdWorld, tdr: bigint, hkid?: number) => ({
  inputs: { tdr_pa: tdr, hkid: hkid ?? w.p.freeHkid() },
});
const noTd = { td: false as const };

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a free page and a free private HKID",
    world: noTd,
    setup: (w) => call(w, w.td.tdr, 40),
    then: (w, r) => {
      void r;
      const td = w.tdState;
      assert.equal(w.state.pamt.get(w.td.tdr).pageType, "PT_TDR");
      // tdh_mng_create.c gives the TDR's PAMT entry owner 0: a TDR owns itself implicitly.
      assert.equal(w.state.pamt.get(w.td.tdr).owner, 0n);
      assert.equal(w.state.kot.get(40), "HKID_ASSIGNED");
      assert.equal(td.lifecycle, "TD_HKID_ASSIGNED");
      assert.equal(td.opState, "OP_STATE_UNINITIALIZED");
      assert.equal(td.uuid?.length, 32);
      // The TDR keeps the SEAM database entry TDH.SYS.INIT sampled.
      assert.deepEqual(td.seamdb, w.state.platform.sampled?.seamdb);
      assert.notEqual(td.seamdb, undefined);
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w, w.td.tdr)),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "HKID reserved bits 63:16 set",
    world: noTd,
    setup: (w) => ({ inputs: { tdr_pa: w.td.tdr, hkid: (1n << 16n) | BigInt(w.p.freeHkid()) } }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "a shared (MKTME) KeyID",
    world: noTd,
    setup: (w) => call(w, w.td.tdr, 1),
  },
  ...hpaRows({
    operand: "RCX",
    what: "TDR",
    world: noTd,
    call: (w, pa) => call(w, pa),
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.p.createTd({ stage: "created" }).tdr,
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_OPERAND_BUSY",
    operand: "KOT",
    why: "the KOT is locked by another operation",
    world: noTd,
    setup: (w) => {
      w.hold(lockKey.kot());
      return call(w, w.td.tdr);
    },
  },
  {
    status: "TDX_HKID_NOT_FREE",
    why: "the HKID belongs to another TD",
    world: noTd,
    setup: (w) => call(w, w.td.tdr, w.p.createTd({ stage: "created" }).hkid),
  },
  {
    status: "TDX_HKID_NOT_FREE",
    why: "the module's own global private HKID",
    world: noTd,
    setup: (w) => call(w, w.td.tdr, w.state.platform.globalHkid),
  },
  {
    status: "TDX_RND_NO_ENTROPY",
    why: "the CPU's RNG gives no entropy for the TD_UUID",
    world: noTd,
    setup: (w) => {
      w.p.cpu.blockRng(true);
      return call(w, w.td.tdr);
    },
    then: (w) => {
      assert.equal(w.state.pamt.get(w.td.tdr).pageType, "PT_NDA");
      assert.equal(w.state.tds.has(w.td.tdr), false);
    },
  },
]);
