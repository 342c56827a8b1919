// TDH.MR.FINALIZE: ends the TD's build-time measurement and makes it RUNNABLE.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { mrtdFinalize } from "../mrtd.ts";
import { servtdHashOf } from "../servtd.ts";

export const tdhMrFinalize: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, undefined);
  if (bad) return bad;
  if ((td.numVcpus ?? 0) === 0) return ctx.status("TDX_NO_VCPUS");

  mrtdFinalize(td);
  // Over the slots TDH.SERVTD.PREBIND/BIND filled; all zeros with none.
  td.servtdHash = servtdHashOf(ctx.spec, td);
  td.finalized = true;
  td.opState = "OP_STATE_RUNNABLE";
  return ctx.ok();
};
