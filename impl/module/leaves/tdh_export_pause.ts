// TDH.EXPORT.PAUSE: ends the live (pre-copy) phase of an export: the TD stops running.
// With the TDR locked exclusively no vCPU is inside the TD, so the TLB epoch simply
// advances (an aborted export's next entries flush) and OP_STATE becomes PAUSED_EXPORT.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";

export const tdhExportPause: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, undefined);
  if (bad) return bad;
  td.epoch += 1n;
  td.opState = "OP_STATE_PAUSED_EXPORT";
  return ctx.ok();
};
