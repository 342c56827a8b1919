import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { lockKey } from "../locks.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";

const LEAF = "TDH.MR.FINALIZE";
const call = (w: TdWorld, tdr = w.td.tdr) => ({ inputs: { tdr_pa: tdr } });
const withVcpu = { vcpus: [{}] };

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "an initialised TD with a vCPU",
    world: withVcpu,
    setup: call,
    then: (w) => {
      const td = w.tdState;
      assert.equal(td.opState, "OP_STATE_RUNNABLE");
      // Nothing measured: MRTD is SHA-384 of the empty message.
      assert.deepEqual(td.mrtd, new Uint8Array(createHash("sha384").digest()));
      assert.deepEqual(td.servtdHash, new Uint8Array(48));
    },
  },
  ...dispatcherRows(LEAF, call),
  ...hpaRows({
    operand: "RCX",
    what: "TDR",
    world: withVcpu,
    call: (w, pa) => call(w, pa),
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.vcpu,
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_TD_FATAL",
    why: "the TD is marked fatal (injected: a TD being built never ran)",
    world: withVcpu,
    setup: (w) => {
      w.tdState.fatal = true;
      return call(w);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "keys not configured",
    world: { td: { stage: "created" } },
    setup: call,
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "no TDCS pages",
    world: { td: { stage: "keys" } },
    setup: call,
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "already finalised",
    world: { ...withVcpu, finalize: true },
    setup: call,
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "TDH.MNG.INIT not done",
    world: { td: { stage: "tdcs" } },
    setup: call,
  },
  {
    status: "TDX_NO_VCPUS",
    why: "no vCPU initialised (one only created)",
    world: { vcpus: [{ init: false }] },
    setup: call,
  },
]);
