// TDH.SYS.INIT: the first initialisation step, once on any LP. Checks the platform and
// records it (impl/module/platform_sample.ts); the module moves to SYSINIT_DONE.
import type { LeafHandler } from "../leaf_context.ts";
import { clearOutputs, faultCompletion, lockGlobal } from "../platform_helpers.ts";
import { isFault, samplePlatform } from "../platform_sample.ts";

export const tdhSysInit: LeafHandler = (ctx) => {
  const attributes = ctx.in("sys_attributes");
  clearOutputs(ctx);
  const busy = lockGlobal(ctx, "exclusive");
  if (busy) return busy;
  if (attributes !== 0n) return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("sys_attributes"));
  const p = ctx.state.platform;
  if (p.sysState !== "SYSINIT_PENDING") return ctx.status("TDX_SYS_INIT_NOT_PENDING");
  const sampled = samplePlatform(ctx.spec, ctx.cpu, ctx.lp.id, ctx.state.profile);
  if (isFault(sampled)) return faultCompletion(ctx, sampled);
  p.sampled = sampled;
  p.sysAttributes = attributes;
  p.lpInitialized.clear();
  p.lpPackage.clear();
  p.packagesKeyConfigured.clear();
  p.sysState = "SYSINIT_DONE";
  return ctx.ok();
};
