import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";

const LEAF = "TDH.MNG.KEY.CONFIG";
const created = { td: { stage: "created" as const } };
const call = (_w: TdWorld, tdr: bigint, lp = 0) => ({ inputs: { tdr_pa: tdr }, lp });
/** An LP of a package other than LP 0's. */
const otherPackageLp = (w: TdWorld) =>
  w.p.cpu.lps.find((lp) => w.p.cpu.packageOf(lp.id) !== w.p.cpu.packageOf(0))!.id;

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "first package: the TD still waits for the others",
    world: created,
    setup: (w) => call(w, w.td.tdr),
    then: (w) => assert.equal(w.tdState.lifecycle, "TD_HKID_ASSIGNED"),
  },
  {
    status: "TDX_SUCCESS",
    why: "last package: the keys are configured",
    world: created,
    setup: (w) => {
      w.ok(LEAF, { tdr_pa: w.td.tdr }, { lp: 0 });
      return call(w, w.td.tdr, otherPackageLp(w));
    },
    then: (w) => {
      assert.equal(w.tdState.lifecycle, "TD_KEYS_CONFIGURED");
      for (let pkg = 0; pkg < w.p.cpu.platform.packages; pkg++) {
        assert.ok(w.p.cpu.keyProgrammed(pkg, w.td.hkid));
      }
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w, w.td.tdr)),
  ...hpaRows({
    operand: "RCX",
    what: "TDR",
    world: created,
    call,
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.page(),
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_TD_FATAL",
    why: "the TD is marked fatal (a TD in this state never ran: injected)",
    world: created,
    setup: (w) => {
      w.tdState.fatal = true;
      return call(w, w.td.tdr);
    },
  },
  {
    status: "TDX_LIFECYCLE_STATE_INCORRECT",
    why: "keys already configured on every package",
    world: { td: { stage: "keys" } },
    setup: (w) => call(w, w.td.tdr),
  },
  {
    status: "TDX_KEY_CONFIGURED",
    why: "again on an LP of a package already done",
    world: created,
    setup: (w) => {
      w.ok(LEAF, { tdr_pa: w.td.tdr }, { lp: 0 });
      const samePackage = w.p.cpu.lps.find((lp) =>
        lp.id !== 0 && w.p.cpu.packageOf(lp.id) === w.p.cpu.packageOf(0)
      )!;
      return call(w, w.td.tdr, samePackage.id);
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "KET",
    why: "a concurrent PCONFIG holds the package's key table",
    world: created,
    setup: (w) => {
      w.p.cpu.setKeyTableBusy(w.p.cpu.packageOf(0), true);
      return call(w, w.td.tdr);
    },
    then: (w) => {
      assert.equal(w.tdState.keyConfiguredPackages.size, 0);
      assert.equal(w.p.cpu.keyProgrammed(w.p.cpu.packageOf(0), w.td.hkid), false);
    },
  },
  {
    status: "TDX_KEY_GENERATION_FAILED",
    why: "the CPU has no entropy for the random key",
    world: created,
    setup: (w) => {
      w.p.cpu.blockRng(true);
      return call(w, w.td.tdr);
    },
  },
]);
