// TDH.MNG.KEY.CONFIG: programs the TD's HKID on the calling LP's package; once every
// package configured by TDH.SYS.KEY.CONFIG is done, the TD's keys are configured.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr } from "../td_gate.ts";
import { packageOf, programRandomKey } from "../pconfig.ts";

export const tdhMngKeyConfig: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  if (td.fatal) return ctx.status("TDX_TD_FATAL");
  if (td.lifecycle !== "TD_HKID_ASSIGNED") return ctx.status("TDX_LIFECYCLE_STATE_INCORRECT");
  const pkg = packageOf(ctx);
  if (td.keyConfiguredPackages.has(pkg)) return ctx.status("TDX_KEY_CONFIGURED");
  const failed = programRandomKey(ctx, td.hkid);
  if (failed) return failed;

  td.keyConfiguredPackages.add(pkg);
  const all = ctx.state.platform.packagesKeyConfigured;
  if ([...all].every((p) => td.keyConfiguredPackages.has(p))) {
    td.lifecycle = "TD_KEYS_CONFIGURED";
  }
  return ctx.ok();
};
