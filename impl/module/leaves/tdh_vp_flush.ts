// TDH.VP.FLUSH: dissociates a vCPU from the calling LP (the one it is associated
// with), so that it can run elsewhere or the TD can be torn down.
import type { LeafHandler } from "../leaf_context.ts";
import { explicitTdvpr, tdvpsComplete } from "../td_checks.ts";

export const tdhVpFlush: LeafHandler = (ctx) => {
  const r = explicitTdvpr(ctx, ctx.in("tdvpr_pa"), ctx.operandOf("tdvpr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const { vcpu, td } = r.value;
  if (td.lifecycle !== "TD_KEYS_CONFIGURED") return ctx.status("TDX_TD_KEYS_NOT_CONFIGURED");
  if (!tdvpsComplete(ctx, td, vcpu)) return ctx.status("TDX_TDCX_NUM_INCORRECT");
  if (vcpu.associatedLp !== ctx.lp.id) return ctx.status("TDX_VCPU_NOT_ASSOCIATED");

  vcpu.associatedLp = undefined;
  td.vcpusAssociated.delete(vcpu.tdvpr);
  return ctx.ok();
};
