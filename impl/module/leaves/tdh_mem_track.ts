// TDH.MEM.TRACK: advance the TD's TLB epoch, once no vCPU still runs in the previous
// one. Ranges blocked before the increment count as tracked when every vCPU that ran in
// the epoch they were blocked in has left it (tlb_tracking.ts).
import type { LeafHandler } from "../leaf_context.ts";
import { lockKey } from "../locks.ts";
import { openTd } from "../sept_steps.ts";
import { advanceEpoch, previousEpochBusy } from "../tlb_tracking.ts";

export const tdhMemTrack: LeafHandler = (ctx) => {
  const opened = openTd(ctx, ctx.in("tdr_pa"), "RCX", "shared", "shared");
  if (opened.fail) return opened.fail;
  const td = opened.value;
  const busy = ctx.lock(lockKey.tdEpoch(td.tdr), "exclusive", "TD_EPOCH");
  if (busy) return busy;
  if (previousEpochBusy(td)) return ctx.status("TDX_PREVIOUS_TLB_EPOCH_BUSY");
  advanceEpoch(td);
  return ctx.ok();
};
