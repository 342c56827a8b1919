// A TD's whole life through SEAMCALLs: build (TDH.MNG.CREATE ... TDH.MR.FINALIZE), run
// (TDH.VP.ENTER with a TDG.VP.VMCALL round trip), and teardown in the order the module
// requires: TDH.VP.FLUSH, TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB on every package,
// TDH.MNG.KEY.FREEID, TDH.PHYMEM.PAGE.RECLAIM of every page and finally of the TDR.
import { strict as assert } from "node:assert";
import { leafRegisters } from "../cpu/leaf_call.ts";
import { TdWorld, writeBackCaches } from "./testing/td_status_table.ts";
import { addPage } from "./testing/td_fixture.ts";

Deno.test("TD life cycle: build, run, tear down, reclaim every page, reuse the HKID", () => {
  const w = new TdWorld({ vcpus: [] });
  const p = w.p;
  addPage(p, w.td, 0x10_0000n, new Uint8Array(4096).fill(1));
  const tdvpr = p.createVcpu(w.td);
  let resumed = false;
  p.cpu.attachGuestProgram(w.td.tdr, function* (port) {
    const regs = leafRegisters(p.spec, p.spec.tdcall("TDG.VP.VMCALL"), { control: 0 });
    port.tdcall(regs);
    yield;
    resumed = true;
    for (;;) yield;
  });
  p.finalizeTd(w.td);

  // Run: a TDG.VP.VMCALL exit, then an entry that resumes the guest.
  assert.equal(w.enter(tdvpr).name, "TDX_SUCCESS");
  assert.equal(w.enter(tdvpr).name, "TDX_SUCCESS");
  assert.ok(resumed);

  // Teardown, step by step; each later step fails while an earlier one is missing.
  assert.equal(
    w.call("TDH.MNG.VPFLUSHDONE", { inputs: { tdr_pa: w.td.tdr } }).name,
    "TDX_FLUSHVP_NOT_DONE",
  );
  w.ok("TDH.VP.FLUSH", { tdvpr_pa: tdvpr });
  assert.equal(
    w.call("TDH.MNG.KEY.FREEID", { inputs: { tdr_pa: w.td.tdr } }).name,
    "TDX_LIFECYCLE_STATE_INCORRECT",
  );
  w.ok("TDH.MNG.VPFLUSHDONE", { tdr_pa: w.td.tdr });
  assert.equal(
    w.call("TDH.MNG.KEY.FREEID", { inputs: { tdr_pa: w.td.tdr } }).name,
    "TDX_WBCACHE_NOT_COMPLETE",
  );
  writeBackCaches(w);
  w.ok("TDH.MNG.KEY.FREEID", { tdr_pa: w.td.tdr });
  assert.equal(w.tdState.lifecycle, "TD_TEARDOWN");

  const pages = w.state.pamt.ownedBy(w.td.tdr);
  assert.ok(pages.length > w.td.tdcx.length);
  const reclaim = (pa: bigint) => w.call("TDH.PHYMEM.PAGE.RECLAIM", { inputs: { page_pa: pa } });
  assert.equal(reclaim(w.td.tdr).name, "TDX_TD_ASSOCIATED_PAGES_EXIST");
  for (const pa of pages) assert.equal(reclaim(pa).name, "TDX_SUCCESS");
  assert.equal(reclaim(w.td.tdr).name, "TDX_SUCCESS");
  for (const pa of [...pages, w.td.tdr]) assert.equal(w.state.pamt.get(pa).pageType, "PT_NDA");
  assert.equal(w.state.tds.has(w.td.tdr), false);

  // The HKID and the pages can be used for a new TD.
  const again = p.createTd({ hkid: w.td.hkid, stage: "created" });
  assert.equal(p.module.state.tds.get(again.tdr)!.hkid, w.td.hkid);
  w.ok("TDH.MNG.CREATE", { tdr_pa: w.td.tdr, hkid: p.freeHkid() });
});
