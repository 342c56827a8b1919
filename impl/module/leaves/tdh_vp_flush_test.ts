import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { blockTd } from "../testing/td_rows.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";

const LEAF = "TDH.VP.FLUSH";
const one = { vcpus: [{}] };
const call = (w: TdWorld, tdvpr = w.vcpu, lp = 0) => ({ inputs: { tdvpr_pa: tdvpr }, lp });

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "on the LP the vCPU is associated with",
    world: one,
    setup: (w) => call(w),
    then: (w) => {
      assert.equal(w.vcpuState().associatedLp, undefined);
      assert.equal(w.tdState.vcpusAssociated.size, 0);
      // Another LP may now take it (TDH.VP.RD associates it there).
      const index = BigInt(w.spec.metadataField("vcpu", "VCPU_INDEX").field_id);
      const r = w.call("TDH.VP.RD", { inputs: { tdvpr_pa: w.vcpu, field_id: index }, lp: 1 });
      assert.equal(r.name, "TDX_SUCCESS");
      assert.equal(w.vcpuState().associatedLp, 1);
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w, w.page())),
  ...hpaRows({
    operand: "RCX",
    what: "TDVPR",
    world: one,
    call: (w, pa) => call(w, pa),
    page: (w) => w.vcpu,
    wrongPage: (w) => w.td.tdr,
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_OPERAND_BUSY",
    operand: "TDR",
    why: "the owner TDR is locked exclusively",
    world: one,
    setup: (w) => {
      w.hold(lockKey.page(w.td.tdr));
      return call(w);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "after TDH.MNG.VPFLUSHDONE",
    world: { vcpus: [{ init: false }] },
    setup: (w) => {
      blockTd(w);
      return call(w);
    },
  },
  {
    status: "TDX_TDCX_NUM_INCORRECT",
    why: "a created vCPU with only its TDVPR",
    world: { vcpus: [{ init: false, tdvpsPages: 1 }] },
    setup: (w) => call(w),
  },
  {
    status: "TDX_VCPU_NOT_ASSOCIATED",
    why: "associated with LP 0, flushed on LP 1",
    world: one,
    setup: (w) => call(w, w.vcpu, 1),
  },
  {
    status: "TDX_VCPU_NOT_ASSOCIATED",
    why: "not associated at all",
    world: { vcpus: [{ init: false }] },
    setup: (w) => call(w),
  },
]);
