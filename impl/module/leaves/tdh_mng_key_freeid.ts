// TDH.MNG.KEY.FREEID: once TDH.PHYMEM.CACHE.WB has run on every package since
// TDH.MNG.VPFLUSHDONE, frees the blocked TD's HKID and puts the TD in teardown, after
// which its pages can be reclaimed.
import type { LeafHandler } from "../leaf_context.ts";
import { lockKey } from "../locks.ts";
import { checkTdr } from "../td_gate.ts";

export const tdhMngKeyFreeid: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  if (td.lifecycle !== "TD_BLOCKED") return ctx.status("TDX_LIFECYCLE_STATE_INCORRECT");
  const busy = ctx.lock(lockKey.kot(), "exclusive", "KOT");
  if (busy) return busy;
  const pending = ctx.state.kotWbinvdPending.get(td.hkid);
  if (pending && pending.size > 0) return ctx.status("TDX_WBCACHE_NOT_COMPLETE");

  ctx.state.kotWbinvdPending.delete(td.hkid);
  ctx.state.kot.delete(td.hkid);
  td.lifecycle = "TD_TEARDOWN";
  return ctx.ok();
};
