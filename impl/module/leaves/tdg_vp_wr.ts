// TDG.VP.WR: writes the guest-writable bits of a vCPU-scope metadata element.
import type { LeafHandler } from "../leaf_context.ts";
import { guestMetadataWrite } from "./guest_metadata.ts";

export const tdgVpWr: LeafHandler = (ctx) => {
  ctx.out("old_value", 0n);
  if (ctx.in("reserved") !== 0n) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("reserved"));
  }
  return guestMetadataWrite(ctx, "vcpu");
};
