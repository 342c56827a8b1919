// TDG.VM.WR: writes the guest-writable bits of a TD-scope metadata element.
import type { LeafHandler } from "../leaf_context.ts";
import { guestMetadataWrite, writeInputs } from "./guest_metadata.ts";

export const tdgVmWr: LeafHandler = (ctx) => {
  const input = writeInputs(ctx);
  ctx.out("old_value", 0n);
  if (ctx.in("vm_id") !== 0n) return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("vm_id"));
  return guestMetadataWrite(ctx, "td", input);
};
