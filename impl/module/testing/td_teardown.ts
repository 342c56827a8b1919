// Test support: tearing a TD down as a host does before reclaiming its pages:
// TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB on one LP of every package, TDH.MNG.KEY.FREEID.
import type { CallResult, Platform } from "./fixture.ts";

function ok(name: string, r: CallResult): void {
  if (r.name !== "TDX_SUCCESS") throw new Error(`${name} failed: ${r.name}`);
}

/** TDH.PHYMEM.CACHE.WB (start, then resume while interrupted) on the first LP of each package. */
export function writeBackCaches(p: Platform): void {
  const done = new Set<number>();
  for (const lp of p.cpu.lps) {
    const pkg = p.cpu.packageOf(lp.id);
    if (done.has(pkg)) continue;
    done.add(pkg);
    let r = p.seamcall("TDH.PHYMEM.CACHE.WB", { command: 0 }, { lp: lp.id });
    while (r.name === "TDX_INTERRUPTED_RESUMABLE") {
      r = p.seamcall("TDH.PHYMEM.CACHE.WB", { command: 1 }, { lp: lp.id });
    }
    ok("TDH.PHYMEM.CACHE.WB", r);
  }
}

/** Blocks the TD, flushes caches and frees its HKID: the TD is in TD_TEARDOWN. */
export function teardownTd(p: Platform, tdr: bigint): void {
  ok("TDH.MNG.VPFLUSHDONE", p.seamcall("TDH.MNG.VPFLUSHDONE", { tdr_pa: tdr }));
  writeBackCaches(p);
  ok("TDH.MNG.KEY.FREEID", p.seamcall("TDH.MNG.KEY.FREEID", { tdr_pa: tdr }));
}
