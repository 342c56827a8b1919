import { strict as assert } from "node:assert";
import { rtmrLock } from "../rtmr_lock.ts";
import { lockKey } from "../locks.ts";
import { servtdBindingsLock, servtdHashOf, servtdInfoHash, uuidWord } from "../servtd.ts";
import { servtdOf } from "../servtd_state.ts";
import { cpuExit, fatalWorld, runToFatal } from "../testing/td_rows.ts";
import {
  dispatcherRows,
  hpaRows,
  type Inputs,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";
import {
  type CreatedTd,
  type CreateTdOptions,
  createVcpu,
  finalizeTd,
} from "../testing/td_fixture.ts";

const LEAF = "TDH.SERVTD.BIND";
const INSTANCE = 1n;

/** A service TD: RUNNABLE (one vCPU, finalized) unless `stage` stops it earlier. */
function serviceTd(w: TdWorld, o: CreateTdOptions & { runnable?: boolean } = {}): CreatedTd {
  const td = w.p.createTd(o);
  if (o.runnable === false || (o.stage && o.stage !== "initialized")) return td;
  createVcpu(w.p, td);
  finalizeTd(w.p, td);
  return td;
}

/** The world's TD bound to `servtd` (or pre-bound, with TDH.SERVTD.PREBIND and `hash`). */
const call = (w: TdWorld, servtd: bigint, o: Inputs = {}) => ({
  inputs: {
    tdr_pa: w.td.tdr,
    servtd_tdr_pa: servtd,
    servtd_slot: 0,
    servtd_type: 0,
    servtd_attr: 0,
    ...o,
  },
});

function prebind(w: TdWorld, hash: Uint8Array, attr = 0n): void {
  const pa = w.page();
  w.p.cpu.memory.write(pa, hash);
  w.ok("TDH.SERVTD.PREBIND", {
    tdr_pa: w.td.tdr,
    servtd_info_hash_pa: pa,
    servtd_slot: 0,
    servtd_type: 0,
    servtd_attr: attr,
  });
}

const tdOf = (w: TdWorld, td: CreatedTd) => w.state.tds.get(td.tdr)!;
const slot0 = (w: TdWorld) => servtdOf(w.spec, w.tdState).bindings[0];

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "first binding of an initialised TD: handle and target UUID returned",
    setup: (w) => call(w, serviceTd(w).tdr),
    then: (w, r) => {
      const servtd = [...w.state.tds.values()].find((t) => t.tdr !== w.td.tdr)!;
      const uuid0 = uuidWord(servtd.uuid, 0);
      assert.equal(r.out.binding_handle, (w.td.tdr + uuid0) & 0xFFFF_FFFF_FFFF_FFFFn);
      for (let i = 0; i < 4; i++) {
        assert.equal(r.out[`target_td_uuid_${i}`], uuidWord(w.tdState.uuid, i));
      }
      const b = slot0(w);
      assert.equal(b.state, "SERVTD_BOUND");
      assert.deepEqual(b.uuid, servtd.uuid);
      assert.deepEqual(b.infoHash, servtdInfoHash(w.spec, servtd, 0n));
      assert.equal(servtdOf(w.spec, w.tdState).num, 1);
      // SERVTD_NUM and SERVTD_HASH follow the binding.
      const num = w.ok("TDH.MNG.RD", {
        tdr_pa: w.td.tdr,
        field_id: BigInt(w.spec.metadataField("td", "SERVTD_NUM").field_id),
      });
      assert.equal(num.out.value, 1n);
      w.vcpus.push(createVcpu(w.p, w.td));
      finalizeTd(w.p, w.td);
      assert.deepEqual(w.tdState.servtdHash, servtdHashOf(w.spec, w.tdState));
      assert.notDeepEqual(w.tdState.servtdHash, new Uint8Array(48));
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a pre-bound slot with the service TD's hash; the TD may be RUNNABLE by then",
    world: { vcpus: [{}] },
    setup: (w) => {
      const servtd = serviceTd(w);
      prebind(w, servtdInfoHash(w.spec, tdOf(w, servtd), 0x4_0000_0000n), 0x4_0000_0000n);
      finalizeTd(w.p, w.td);
      return call(w, servtd.tdr, { servtd_attr: 0x4_0000_0000n });
    },
    then: (w) => {
      assert.equal(slot0(w).state, "SERVTD_BOUND");
      assert.equal(servtdOf(w.spec, w.tdState).num, 1);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "re-binding without INSTANCE_BINDING: another instance with the same measurement",
    world: { vcpus: [{}] },
    setup: (w) => {
      w.ok(LEAF, call(w, serviceTd(w).tdr).inputs);
      finalizeTd(w.p, w.td);
      return call(w, serviceTd(w).tdr);
    },
    then: (w) => {
      const tds = [...w.state.tds.values()];
      assert.deepEqual(slot0(w).uuid, tds[tds.length - 1].uuid);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "re-binding the same instance with INSTANCE_BINDING after its RTMR changed",
    world: { vcpus: [{}] },
    setup: (w) => {
      const servtd = serviceTd(w);
      w.ok(LEAF, call(w, servtd.tdr, { servtd_attr: INSTANCE }).inputs);
      finalizeTd(w.p, w.td);
      tdOf(w, servtd).rtmr[2] = new Uint8Array(48).fill(7);
      return call(w, servtd.tdr, { servtd_attr: INSTANCE });
    },
    then: (w) => {
      const servtd = [...w.state.tds.values()].find((t) => t.tdr !== w.td.tdr)!;
      assert.deepEqual(slot0(w).infoHash, servtdInfoHash(w.spec, servtd, INSTANCE));
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w, w.page())),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "the service TD is the target TD",
    setup: (w) => call(w, w.td.tdr),
  },
  ...hpaRows({
    operand: "RCX",
    what: "target TDR",
    call: (w, pa) => call(w, serviceTd(w).tdr, { tdr_pa: pa }),
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.td.tdcx[0],
    lock: "shared",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_TD_FATAL",
    why: "the target TD is fatal",
    world: fatalWorld,
    setup: (w) => {
      runToFatal(w);
      return call(w, serviceTd(w).tdr);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "the target's keys are not configured",
    world: { td: { stage: "created" } },
    setup: (w) => call(w, serviceTd(w).tdr),
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "the target has no TDCS pages",
    world: { td: { stage: "keys" } },
    setup: (w) => call(w, serviceTd(w).tdr),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "the target's OP_STATE lock is held exclusively",
    setup: (w) => {
      const s = serviceTd(w);
      w.hold(lockKey.tdcs(w.td.tdr));
      return call(w, s.tdr);
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "the target is in an operation state BIND does not allow",
    setup: (w) => {
      const s = serviceTd(w);
      w.tdState.opState = "OP_STATE_PAUSED_EXPORT";
      return call(w, s.tdr);
    },
  },
  ...hpaRows({
    operand: "RDX",
    what: "service TDR",
    call: (w, pa) => call(w, pa),
    page: (w) => serviceTd(w).tdr,
    wrongPage: (w) => w.td.tdcx[0],
    lock: "shared",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_TD_FATAL",
    why: "the service TD is fatal",
    setup: (w) => {
      const s = w.p.createTd();
      w.p.cpu.attachGuestProgram(
        s.tdr,
        cpuExit({ status: "TDX_NON_RECOVERABLE_TD", reason: "NOTIFICATION" })(w.p),
      );
      const v = createVcpu(w.p, s);
      finalizeTd(w.p, s);
      w.enter(v);
      return call(w, s.tdr);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "the service TD's keys are not configured",
    setup: (w) => call(w, serviceTd(w, { stage: "created" }).tdr),
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "the service TD has no TDCS pages",
    setup: (w) => call(w, serviceTd(w, { stage: "keys" }).tdr),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "the service TD's OP_STATE lock is held exclusively",
    setup: (w) => {
      const s = serviceTd(w);
      w.hold(lockKey.tdcs(s.tdr));
      return call(w, s.tdr);
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "the service TD is not finalized (INITIALIZED)",
    setup: (w) => call(w, serviceTd(w, { runnable: false }).tdr),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
    why: "slot 1",
    setup: (w) => call(w, serviceTd(w).tdr, { servtd_slot: 1 }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R9",
    why: "type 1 is not supported",
    setup: (w) => call(w, serviceTd(w).tdr, { servtd_type: 1 }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "R10",
    why: "PLATFORM_BINDING (future) set",
    setup: (w) => call(w, serviceTd(w).tdr, { servtd_attr: 4 }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SERVTD_BINDINGS",
    why: "a service TD reads the target's binding table",
    setup: (w) => {
      const s = serviceTd(w);
      w.hold(servtdBindingsLock(w.td.tdr), "shared");
      return call(w, s.tdr);
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RTMR",
    why: "the service TD extends an RTMR",
    setup: (w) => {
      const s = serviceTd(w);
      w.hold(rtmrLock(tdOf(w, s)));
      return call(w, s.tdr);
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "a first binding of a RUNNABLE target",
    world: { vcpus: [{}], finalize: true },
    setup: (w) => call(w, serviceTd(w).tdr),
    then: (w) => assert.equal(slot0(w).state, "SERVTD_NOT_BOUND"),
  },
  {
    status: "TDX_SERVTD_TYPE_MISMATCH",
    why: "pre-bound with another type (injected: tdx_1.5 supports one type only)",
    setup: (w) => {
      const s = serviceTd(w);
      prebind(w, servtdInfoHash(w.spec, tdOf(w, s), 0n));
      slot0(w).type = 1n;
      return call(w, s.tdr);
    },
  },
  {
    status: "TDX_SERVTD_ATTR_MISMATCH",
    why: "pre-bound with INSTANCE_BINDING, bound without",
    setup: (w) => {
      const s = serviceTd(w);
      prebind(w, servtdInfoHash(w.spec, tdOf(w, s), 0n), INSTANCE);
      return call(w, s.tdr);
    },
    then: (w) => assert.equal(slot0(w).state, "SERVTD_PRE_BOUND"),
  },
  {
    status: "TDX_SERVTD_ATTR_MISMATCH",
    why: "bound without INSTANCE_BINDING, re-bound with it",
    setup: (w) => {
      const s = serviceTd(w);
      w.ok(LEAF, call(w, s.tdr).inputs);
      return call(w, s.tdr, { servtd_attr: INSTANCE });
    },
  },
  {
    status: "TDX_SERVTD_INFO_HASH_MISMATCH",
    why: "pre-bound with another hash",
    setup: (w) => {
      prebind(w, new Uint8Array(48).fill(0x55));
      return call(w, serviceTd(w).tdr);
    },
  },
  {
    status: "TDX_SERVTD_INFO_HASH_MISMATCH",
    why: "re-binding without INSTANCE_BINDING by a TD measured differently",
    setup: (w) => {
      w.ok(LEAF, call(w, serviceTd(w).tdr).inputs);
      const other = serviceTd(w);
      tdOf(w, other).rtmr[0] = new Uint8Array(48).fill(1);
      return call(w, other.tdr);
    },
  },
  {
    status: "TDX_SERVTD_UUID_MISMATCH",
    why: "re-binding with INSTANCE_BINDING by another instance",
    setup: (w) => {
      w.ok(LEAF, call(w, serviceTd(w).tdr, { servtd_attr: INSTANCE }).inputs);
      return call(w, serviceTd(w).tdr, { servtd_attr: INSTANCE });
    },
  },
]);
