// TDH.MNG.RD: the host reads one element of a TD-scope metadata field.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { hostMdRead, resetReadOutputs } from "../md_leaf.ts";

export const tdhMngRd: LeafHandler = (ctx) => {
  const fieldId = ctx.in("field_id");
  resetReadOutputs(ctx);
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "shared");
  if (r.fail) return r.fail;
  const bad = checkTdState(ctx, r.value, "shared");
  if (bad) return bad;
  return hostMdRead(ctx, "td", fieldId, r.value);
};
