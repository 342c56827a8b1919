// TDH.VP.RD: the host reads one element of a vCPU-scope metadata field, associating
// the vCPU with the calling LP if it is not associated yet.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdState } from "../td_gate.ts";
import { checkAndAssociateVcpu, explicitTdvpr, tdvpsComplete } from "../td_checks.ts";
import { hostMdRead, resetReadOutputs } from "../md_leaf.ts";

export const tdhVpRd: LeafHandler = (ctx) => {
  const fieldId = ctx.in("field_id");
  resetReadOutputs(ctx);
  const r = explicitTdvpr(ctx, ctx.in("tdvpr_pa"), ctx.operandOf("tdvpr_pa"), "shared");
  if (r.fail) return r.fail;
  const { vcpu, td } = r.value;
  const bad = checkTdState(ctx, td, "shared");
  if (bad) return bad;
  if (!tdvpsComplete(ctx, td, vcpu)) return ctx.status("TDX_TDCX_NUM_INCORRECT");
  // A disabled vCPU can still be read (e.g. to see why it stopped).
  const a = checkAndAssociateVcpu(ctx, td, vcpu, true);
  if (a.fail) return a.fail;
  return hostMdRead(ctx, "vcpu", fieldId, td, vcpu);
};
