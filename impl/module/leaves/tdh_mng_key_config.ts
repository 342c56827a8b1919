// TDH.MNG.KEY.CONFIG: programs the TD's HKID with a CPU-generated random key (PCONFIG)
// on the calling LP's package; once every package configured by TDH.SYS.KEY.CONFIG is
// done, the TD's keys are configured.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr } from "../td_gate.ts";

export const tdhMngKeyConfig: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  if (td.fatal) return ctx.status("TDX_TD_FATAL");
  if (td.lifecycle !== "TD_HKID_ASSIGNED") return ctx.status("TDX_LIFECYCLE_STATE_INCORRECT");
  const platform = ctx.state.platform;
  const pkg = platform.lpPackage.get(ctx.lp.id) ?? ctx.cpu.packageOf(ctx.lp.id);
  if (td.keyConfiguredPackages.has(pkg)) return ctx.status("TDX_KEY_CONFIGURED");
  switch (ctx.cpu.pconfigRandomKey(ctx.lp.id, td.hkid)) {
    case "busy":
      // Another PCONFIG holds the package's key table: nothing changed, retry.
      return ctx.status("TDX_OPERAND_BUSY", "KET");
    case "entropy":
      return ctx.status("TDX_KEY_GENERATION_FAILED");
  }
  td.keyConfiguredPackages.add(pkg);
  if ([...platform.packagesKeyConfigured].every((p) => td.keyConfiguredPackages.has(p))) {
    td.lifecycle = "TD_KEYS_CONFIGURED";
  }
  return ctx.ok();
};
