// TDH.SYS.KEY.CONFIG: programs the module's global private HKID with a random key on the
// calling LP's package (PCONFIG). Once every package is done the module is SYS_READY.
import type { LeafHandler } from "../leaf_context.ts";
import { lockGlobal } from "../platform_helpers.ts";

export const tdhSysKeyConfig: LeafHandler = (ctx) => {
  const busy = lockGlobal(ctx, "exclusive");
  if (busy) return busy;
  const p = ctx.state.platform;
  if (p.sysState !== "SYSCONFIG_DONE" || p.globalHkid === undefined || !p.sampled) {
    return ctx.status("TDX_SYS_KEY_CONFIG_NOT_PENDING");
  }
  const pkg = p.lpPackage.get(ctx.lp.id) ?? ctx.cpu.packageOf(ctx.lp.id);
  if (p.packagesKeyConfigured.has(pkg)) return ctx.status("TDX_KEY_CONFIGURED");
  switch (ctx.cpu.pconfigRandomKey(ctx.lp.id, p.globalHkid)) {
    case "busy":
      return ctx.status("TDX_OPERAND_BUSY", "KET");
    case "entropy":
      return ctx.status("TDX_KEY_GENERATION_FAILED");
  }
  p.packagesKeyConfigured.add(pkg);
  if (p.packagesKeyConfigured.size >= p.sampled.numPkgs) p.sysState = "SYS_READY";
  return ctx.ok();
};
