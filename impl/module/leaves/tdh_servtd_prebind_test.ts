import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { servtdBindingsLock } from "../servtd.ts";
import { servtdOf } from "../servtd_state.ts";
import { fatalWorld, opStateLock, runToFatal } from "../testing/td_rows.ts";
import {
  dispatcherRows,
  hpaRows,
  type Inputs,
  tdStatusTests,
  TdWorld,
} from "../testing/td_status_table.ts";
import { createVcpu, finalizeTd } from "../testing/td_fixture.ts";

const LEAF = "TDH.SERVTD.PREBIND";
const HASH = Uint8Array.from({ length: 48 }, (_, i) => 0xA0 + i);

/** A host page holding the expected hash. */
function hashPage(w: TdWorld): bigint {
  const pa = w.page();
  w.p.cpu.memory.write(pa, HASH);
  return pa;
}

const call = (w: TdWorld, o: Inputs = {}) => ({
  inputs: {
    tdr_pa: w.td.tdr,
    servtd_info_hash_pa: hashPage(w),
    servtd_slot: 0,
    servtd_type: 0,
    servtd_attr: 0,
    ...o,
  },
});

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "an initialised TD's slot 0 records type, attributes and hash",
    setup: (w) => call(w, { servtd_attr: 0x0000_0401_0000_0001n }),
    then: (w, r) => {
      assert.equal(r.out.status, 0n);
      const s = servtdOf(w.spec, w.tdState);
      assert.equal(s.num, 1);
      assert.equal(s.bindings[0].state, "SERVTD_PRE_BOUND");
      assert.equal(s.bindings[0].attributes, 0x0000_0401_0000_0001n);
      assert.deepEqual(s.bindings[0].infoHash, HASH);
      // Pre-binding again replaces the record; the slot count stays.
      assert.equal(w.call(LEAF, call(w)).name, "TDX_SUCCESS");
      assert.equal(s.num, 1);
      assert.equal(s.bindings[0].attributes, 0n);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "an uninitialised TD (TDCS pages added)",
    world: { td: { stage: "tdcs" } },
    setup: (w) => call(w),
  },
  ...dispatcherRows(LEAF, (w) => call(w)),
  ...hpaRows({
    operand: "RCX",
    what: "TDR",
    call: (w, pa) => call(w, { tdr_pa: pa }),
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.td.tdcx[0],
    lock: "shared",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_TD_FATAL",
    why: "the TD is fatal",
    world: fatalWorld,
    setup: (w) => {
      runToFatal(w);
      return call(w);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "TDH.MNG.KEY.CONFIG not done",
    world: { td: { stage: "created" } },
    setup: (w) => call(w),
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "no TDCS pages yet",
    world: { td: { stage: "keys" } },
    setup: (w) => call(w),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "another operation holds the OP_STATE lock exclusively",
    setup: (w) => {
      w.hold(opStateLock(w));
      return call(w);
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "the TD is RUNNABLE",
    world: { vcpus: [{}], finalize: true },
    setup: (w) => call(w),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "hash address not 64-byte aligned",
    setup: (w) => call(w, { servtd_info_hash_pa: hashPage(w) + 8n }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "hash address with the TD's private KeyID",
    setup: (w) =>
      call(w, { servtd_info_hash_pa: w.p.cpu.memory.withKeyId(hashPage(w), w.td.hkid) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "slot 1 (one slot in this module)",
    setup: (w) => call(w, { servtd_slot: 1 }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "type 1 is not supported",
    setup: (w) => call(w, { servtd_type: 1 }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "type wider than 16 bits",
    setup: (w) => call(w, { servtd_type: 0x1_0000 }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "SOLICITED_BINDING (future) set",
    setup: (w) => call(w, { servtd_attr: 2 }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "bit 43 set",
    setup: (w) => call(w, { servtd_attr: 1n << 43n }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SERVTD_BINDINGS",
    why: "a service TD reads the binding table (shared)",
    setup: (w) => {
      w.hold(servtdBindingsLock(w.td.tdr), "shared");
      return call(w);
    },
  },
  {
    status: "TDX_SERVTD_BOUND",
    why: "a running service TD is already bound in the slot",
    setup: (w) => {
      const servtd = w.p.createTd();
      createVcpu(w.p, servtd);
      finalizeTd(w.p, servtd);
      w.ok("TDH.SERVTD.BIND", {
        tdr_pa: w.td.tdr,
        servtd_tdr_pa: servtd.tdr,
        servtd_slot: 0,
        servtd_type: 0,
        servtd_attr: 0,
      });
      return call(w);
    },
    then: (w) => assert.equal(servtdOf(w.spec, w.tdState).bindings[0].state, "SERVTD_BOUND"),
  },
]);

Deno.test("TDH.SYS.RD reports the service-TD build constants the binding leaves check", () => {
  const p = new TdWorld({ td: false }).p;
  const read = (name: string) =>
    p.seamcall("TDH.SYS.RD", { field_id: BigInt(p.spec.metadataField("global", name).field_id) })
      .out.value;
  assert.equal(read("MAX_SERV_TDS"), 1n);
  assert.equal(read("SERVTD_ATTR_FIXED0"), 0x0000_07FF_0000_0001n);
  assert.equal(read("SERVTD_ATTR_FIXED1"), 0n);
});
