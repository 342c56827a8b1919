// TDG.VP.RD: reads a guest-readable vCPU-scope metadata element of the calling vCPU and
// returns the next readable element's id.
import type { LeafHandler } from "../leaf_context.ts";
import { guestMetadataRead } from "./guest_metadata.ts";
import { FIELD_ID_NA } from "../metadata.ts";

export const tdgVpRd: LeafHandler = (ctx) => {
  if (ctx.in("reserved") !== 0n) {
    ctx.out("next_field_id", FIELD_ID_NA);
    ctx.out("value", 0n);
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("reserved"));
  }
  return guestMetadataRead(ctx, { scope: "vcpu", returnsNext: true });
};
