// TDG.VP.WR: writes the guest-writable bits of a vCPU-scope metadata element.
import type { LeafHandler } from "../leaf_context.ts";
import { guestMetadataWrite, writeInputs } from "./guest_metadata.ts";

export const tdgVpWr: LeafHandler = (ctx) => {
  const input = writeInputs(ctx);
  ctx.out("old_value", 0n);
  if (ctx.in("reserved") !== 0n) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("reserved"));
  }
  return guestMetadataWrite(ctx, "vcpu", input);
};
