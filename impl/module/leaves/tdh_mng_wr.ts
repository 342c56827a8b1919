// TDH.MNG.WR: the host writes the masked bits of one element of a TD-scope metadata
// field and gets its previous value.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { hostMdWrite } from "../md_leaf.ts";

export const tdhMngWr: LeafHandler = (ctx) => {
  const [fieldId, value, mask] = [ctx.in("field_id"), ctx.in("value"), ctx.in("write_mask")];
  ctx.out("old_value", 0n);
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "shared");
  if (r.fail) return r.fail;
  const bad = checkTdState(ctx, r.value, "shared");
  if (bad) return bad;
  return hostMdWrite(ctx, "td", fieldId, value, mask, r.value);
};
