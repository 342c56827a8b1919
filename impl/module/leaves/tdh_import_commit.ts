// TDH.IMPORT.COMMIT: commits an import in the post-copy phase: the import counts as
// successful and OP_STATE becomes LIVE_IMPORT (the TD may run while memory still comes in).
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { setTdField, tdField } from "../md_fields.ts";

export const tdhImportCommit: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, undefined);
  if (bad) return bad;
  setTdField(ctx, td, "IMPORT_COUNT", tdField(ctx, td, "IMPORT_COUNT") + 1n);
  td.opState = "OP_STATE_LIVE_IMPORT";
  return ctx.ok();
};
