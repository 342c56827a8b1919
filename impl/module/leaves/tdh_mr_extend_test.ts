import { strict as assert } from "node:assert";
import { lockKey } from "../locks.ts";
import { extendRecord, pageAddRecord } from "../mrtd.ts";
import { addPage, gpaAndLevel } from "../testing/td_fixture.ts";
import {
  dispatcherRows,
  hpaRows,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";
import { createHash } from "node:crypto";

const LEAF = "TDH.MR.EXTEND";
const GPA = 0x20_0000n;
const call = (w: TdWorld, gpa = GPA, tdr = w.td.tdr) => ({
  inputs: { chunk_gpa: gpa, tdr_pa: tdr },
});
const withPage = (w: TdWorld) => addPage(w.p, w.td, GPA, new Uint8Array(4096).fill(0x5A));

/** The SEPT_LEVEL_AND_STATE fields the leaf reported in RDX. */
function reported(w: TdWorld, rdx: bigint): { level: bigint; state: bigint } {
  const f = w.spec.bitfield("SEPT_LEVEL_AND_STATE").fields;
  const get = (n: string) => {
    const [lo, hi] = f.find((x) => x.name === n)!.bits;
    return (rdx >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
  };
  return { level: get("level"), state: get("state") };
}

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a chunk of an added page",
    setup: (w) => {
      withPage(w);
      return call(w, GPA + 0x100n);
    },
    then: (w, r) => {
      // MRTD so far: the page's PAGE.ADD record, then this chunk's EXTEND record.
      const expected = createHash("sha384")
        .update(pageAddRecord(w.spec, GPA))
        .update(extendRecord(w.spec, GPA + 0x100n, new Uint8Array(256).fill(0x5A)))
        .digest();
      assert.deepEqual(w.tdState.mrtdHash.copy().digest(), expected);
      assert.equal(r.out.sept_entry, 0n);
      assert.equal(r.out.sept_level_and_state, 0n);
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w)),
  ...hpaRows({
    operand: "RDX",
    what: "TDR",
    call: (w, pa) => call(w, GPA, pa),
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.td.tdcx[0],
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_TD_FATAL",
    why: "the TD is marked fatal (injected: a TD being built never ran)",
    setup: (w) => {
      w.tdState.fatal = true;
      return call(w);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "keys not configured",
    world: { td: { stage: "created" } },
    setup: (w) => call(w),
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "no TDCS pages",
    world: { td: { stage: "keys" } },
    setup: (w) => call(w),
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "after TDH.MR.FINALIZE",
    world: { vcpus: [{}], finalize: true },
    setup: (w) => call(w),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a GPA not 256-byte aligned",
    setup: (w) => call(w, GPA + 0x80n),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA",
    setup: (w) => call(w, GPA | (1n << 47n)),
  },
  {
    status: "TDX_EPT_ENTRY_NOT_PRESENT",
    operand: "RCX",
    why: "nothing mapped at the GPA: the walk stops at the top level",
    setup: (w) => call(w),
    then: (w, r) => {
      const rep = reported(w, r.out.sept_level_and_state);
      assert.equal(rep.level, 3n);
      assert.equal(rep.state, w.spec.enumValue("SEPT_ENTRY_STATE", "FREE"));
    },
  },
  {
    status: "TDX_EPT_ENTRY_NOT_PRESENT",
    why: "the page's entry is not MAPPED (blocked)",
    setup: (w) => {
      withPage(w);
      w.ok("TDH.MEM.RANGE.BLOCK", { gpa_and_level: gpaAndLevel(w.p, GPA, 0), tdr_pa: w.td.tdr });
      return call(w);
    },
    then: (_w, r) => assert.equal(r.out.sept_level_and_state, 0n),
  },
]);
