// TDG.VM.RD: reads a guest-readable TD-scope metadata element; version 1 also returns
// the next readable element's id.
import type { LeafHandler } from "../leaf_context.ts";
import { guestMetadataRead } from "./guest_metadata.ts";
import { FIELD_ID_NA } from "../metadata.ts";

export const tdgVmRd: LeafHandler = (ctx) => {
  const v1 = ctx.version >= 1;
  if (ctx.in("vm_id") !== 0n) {
    if (v1) ctx.out("next_field_id", FIELD_ID_NA);
    ctx.out("value", 0n);
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("vm_id"));
  }
  return guestMetadataRead(ctx, { scope: "td", returnsNext: v1 });
};
