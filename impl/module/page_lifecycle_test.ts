// A TD page's life from the host's side, through real SEAMCALLs only: added while the
// TD is built (and measured), added dynamically once it runs, blocked, tracked,
// removed, flushed and reused by the host; at teardown the remaining pages are
// reclaimed. Private memory stays private throughout: the host's KeyID never reads it.
import { strict as assert } from "node:assert";
import { entryAt } from "./sept.ts";
import { Platform } from "./testing/fixture.ts";
import { GPA, MemoryTd } from "./testing/memory_fixture.ts";

const SECRET = Uint8Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) & 0xFF);

function ok(name: string | undefined) {
  assert.equal(name, "TDX_SUCCESS");
}

Deno.test("page life cycle: ADD/AUG, BLOCK, TRACK, REMOVE, WBINVD, teardown and RECLAIM", () => {
  const m = new MemoryTd(new Platform(), { debug: true });
  const mem = m.p.cpu.memory;

  // Built: TDH.MEM.PAGE.ADD copies the host's page in under the TD's key.
  const added = m.pageAdd(GPA, SECRET);
  assert.deepEqual(mem.read(mem.withKeyId(added, m.hkid), 4096), SECRET, "TD key reads it");
  const events = mem.integrityEvents.length;
  assert.deepEqual(mem.read(added, 4096), new Uint8Array(4096), "the host's KeyID reads zeros");
  assert.ok(mem.integrityEvents.length > events, "and the attempt is seen");
  const otherKey = m.p.freeHkid();
  assert.deepEqual(mem.read(mem.withKeyId(added, otherKey), 64), new Uint8Array(64));

  // Running: pages come with TDH.MEM.PAGE.AUG, PENDING until the guest accepts them.
  m.finalize();
  const augmented = m.aug(GPA + 0x1000n);
  assert.equal(entryAt(m.td, 0, GPA + 0x1000n).state, "PENDING");
  const rd = m.call("TDH.MEM.RD", { gpa: GPA + 0x1000n, tdr_pa: m.tdr });
  assert.equal(rd.name, "TDX_EPT_ENTRY_NOT_PRESENT");

  // Removal while the TD may run: BLOCK, then TRACK, then REMOVE.
  const remove = (gpa: bigint) =>
    m.call("TDH.MEM.PAGE.REMOVE", { gpa_and_level: m.gal(gpa, 0), tdr_pa: m.tdr });
  assert.equal(remove(GPA).name, "TDX_GPA_RANGE_NOT_BLOCKED");
  m.block(GPA);
  m.block(GPA + 0x1000n);
  assert.equal(remove(GPA).name, "TDX_TLB_TRACKING_NOT_DONE");
  m.track();
  const r1 = remove(GPA);
  ok(r1.name);
  assert.equal(r1.out.removed_page_pa_or_sept_entry, added);
  ok(remove(GPA + 0x1000n).name);
  assert.equal(m.state.pamt.get(added).pageType, "PT_NDA");
  assert.equal(m.state.pamt.get(augmented).pageType, "PT_NDA");

  // The host flushes the TD's lines of the page, then reuses it as shared memory.
  ok(m.call("TDH.PHYMEM.PAGE.WBINVD", { page_pa_with_hkid: mem.withKeyId(added, m.hkid) }).name);
  const mine = new Uint8Array(4096).fill(0x33);
  mem.write(added, mine);
  assert.deepEqual(mem.read(added, 4096), mine);

  // The now empty Secure EPT pages go the same way (block, track, remove).
  for (const level of [1, 2, 3]) {
    m.block(GPA, level);
    m.track();
    const r = m.call("TDH.MEM.SEPT.REMOVE", { gpa_and_level: m.gal(GPA, level), tdr_pa: m.tdr });
    ok(r.name);
    assert.equal(m.state.pamt.get(r.out.removed_sept_page_pa_or_sept_entry).pageType, "PT_NDA");
  }

  // Teardown with a page still mapped: it is reclaimed like the TD's other pages.
  const left = m.aug(GPA + 0x20_0000n);
  for (const tdvpr of m.vcpus) ok(m.call("TDH.VP.FLUSH", { tdvpr_pa: tdvpr }).name);
  ok(m.call("TDH.MNG.VPFLUSHDONE", { tdr_pa: m.tdr }).name);
  const packages = new Map<number, number>();
  for (const lp of m.p.cpu.lps) {
    if (!packages.has(m.p.cpu.packageOf(lp.id))) packages.set(m.p.cpu.packageOf(lp.id), lp.id);
  }
  for (const lp of packages.values()) {
    let r = m.call("TDH.PHYMEM.CACHE.WB", { command: 0 }, { lp });
    while (r.name === "TDX_INTERRUPTED_RESUMABLE") {
      r = m.call("TDH.PHYMEM.CACHE.WB", { command: 1 }, { lp });
    }
    ok(r.name);
  }
  ok(m.call("TDH.MNG.KEY.FREEID", { tdr_pa: m.tdr }).name);
  const reclaim = m.call("TDH.PHYMEM.PAGE.RECLAIM", { page_pa: left });
  ok(reclaim.name);
  assert.equal(m.state.pamt.get(left).pageType, "PT_NDA");
});
