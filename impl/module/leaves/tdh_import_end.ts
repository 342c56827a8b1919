// TDH.IMPORT.END: ends an import (POST_IMPORT or, after TDH.IMPORT.COMMIT, LIVE_IMPORT):
// OP_STATE becomes RUNNABLE; an import not committed before counts as successful now.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { setTdField, tdField } from "../md_fields.ts";

export const tdhImportEnd: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, undefined);
  if (bad) return bad;
  if (td.opState !== "OP_STATE_LIVE_IMPORT") {
    setTdField(ctx, td, "IMPORT_COUNT", tdField(ctx, td, "IMPORT_COUNT") + 1n);
  }
  td.opState = "OP_STATE_RUNNABLE";
  return ctx.ok();
};
