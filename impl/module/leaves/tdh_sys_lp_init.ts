// TDH.SYS.LP.INIT: initialises the calling LP after TDH.SYS.INIT, checking that it looks
// like the platform TDH.SYS.INIT recorded (impl/module/lp_consistency.ts) and learning
// which package it is in.
import type { LeafHandler } from "../leaf_context.ts";
import { clearOutputs, faultCompletion, lockGlobal } from "../platform_helpers.ts";
import { isFault } from "../platform_sample.ts";
import { checkLpConsistency } from "../lp_consistency.ts";

export const tdhSysLpInit: LeafHandler = (ctx) => {
  clearOutputs(ctx);
  const busy = lockGlobal(ctx, "shared");
  if (busy) return busy;
  const p = ctx.state.platform;
  if (p.sysState !== "SYSINIT_DONE" || !p.sampled) return ctx.status("TDX_SYS_LP_INIT_NOT_PENDING");
  if (p.lpInitialized.has(ctx.lp.id)) return ctx.status("TDX_SYS_LP_INIT_DONE");
  // Seed of the LP's single-step defence.
  if (ctx.cpu.rdrand64() === undefined) return ctx.status("TDX_RND_NO_ENTROPY");
  if (ctx.cpu.seamopsCapabilities(ctx.lp.id) !== p.sampled.seamCapabilities) {
    return ctx.status("TDX_INCOMPATIBLE_SEAM_CAPABILITIES");
  }
  const r = checkLpConsistency(ctx.spec, ctx.cpu, ctx.lp.id, p.sampled);
  if (isFault(r)) return faultCompletion(ctx, r);
  p.lpInitialized.add(ctx.lp.id);
  p.lpPackage.set(ctx.lp.id, r.pkg);
  return ctx.ok();
};
