// TDH.PHYMEM.CACHE.WB: writes back the calling package's caches, one cache sub-block at
// a time (WBNOINVDP), so the HKIDs flushed from their TDs can be freed. A pending host
// interrupt stops it between sub-blocks; the host resumes with RCX = 1. When a cycle
// completes, every HKID that was HKID_FLUSHED when it started has this package's
// write-back pending bit cleared.
import type { LeafHandler } from "../leaf_context.ts";
import { lockKey } from "../locks.ts";

export const tdhPhymemCacheWb: LeafHandler = (ctx) => {
  const command = ctx.in("command");
  if (command > 1n) return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("command"));
  const p = ctx.state.platform;
  const pkg = p.lpPackage.get(ctx.lp.id) ?? ctx.cpu.packageOf(ctx.lp.id);
  const busy = ctx.lock(lockKey.wbcache(pkg), "exclusive", "WBCACHE") ??
    ctx.lock(lockKey.kot(), "shared", "KOT");
  if (busy) return busy;
  let cycle = p.cacheWb.get(pkg);
  if (command === 0n) {
    p.cacheWb.delete(pkg);
    const flushed = [...ctx.state.kot].filter(([, s]) => s === "HKID_FLUSHED").map(([h]) => h);
    if (flushed.length === 0) return ctx.status("TDX_NO_HKID_READY_TO_WBCACHE");
    cycle = { nextBlock: 0, hkids: flushed };
  } else if (!cycle || cycle.nextBlock === 0) {
    return ctx.status("TDX_WBCACHE_RESUME_ERROR");
  }
  const blocks = p.sampled?.cacheSubBlocks ?? ctx.cpu.platform.cacheSubBlocks;
  do {
    cycle.nextBlock++;
    if (cycle.nextBlock < blocks && ctx.cpu.hostInterruptPending(ctx.lp.id)) {
      p.cacheWb.set(pkg, cycle);
      return ctx.status("TDX_INTERRUPTED_RESUMABLE");
    }
  } while (cycle.nextBlock < blocks);
  p.cacheWb.delete(pkg);
  for (const h of cycle.hkids) ctx.state.kotWbinvdPending.get(h)?.delete(pkg);
  return ctx.ok();
};
