// TDH.VP.WR: the host writes the masked bits of one element of a vCPU-scope metadata
// field, associating the vCPU with the calling LP if it is not associated yet.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdState } from "../td_gate.ts";
import { checkAndAssociateVcpu, explicitTdvpr, tdvpsComplete } from "../td_checks.ts";
import { hostMdWrite } from "../md_leaf.ts";

export const tdhVpWr: LeafHandler = (ctx) => {
  const [fieldId, value, mask] = [ctx.in("field_id"), ctx.in("value"), ctx.in("write_mask")];
  ctx.out("old_value", 0n);
  const r = explicitTdvpr(ctx, ctx.in("tdvpr_pa"), ctx.operandOf("tdvpr_pa"), "shared");
  if (r.fail) return r.fail;
  const { vcpu, td } = r.value;
  const bad = checkTdState(ctx, td, "shared");
  if (bad) return bad;
  if (!tdvpsComplete(ctx, td, vcpu)) return ctx.status("TDX_TDCX_NUM_INCORRECT");
  const a = checkAndAssociateVcpu(ctx, td, vcpu, false);
  if (a.fail) return a.fail;
  return hostMdWrite(ctx, "vcpu", fieldId, value, mask, td, vcpu);
};
