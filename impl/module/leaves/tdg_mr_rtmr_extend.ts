// TDG.MR.RTMR.EXTEND: RTMR[index] = SHA-384(RTMR[index] || 48 bytes of guest data).
import { createHash } from "node:crypto";
import type { LeafHandler } from "../leaf_context.ts";
import { aboveGpaw, currentGuest, readGuest, sharedBit } from "../guest_access.ts";
import { lockRtmrGuest } from "../rtmr_lock.ts";

const DATA_ALIGNMENT = 64n;
const SHA384_BYTES = 48;

export const tdgMrRtmrExtend: LeafHandler = (ctx) => {
  const g = currentGuest(ctx);
  const gpa = ctx.in("extend_data_gpa");
  const rcx = ctx.operandOf("extend_data_gpa");
  if (gpa % DATA_ALIGNMENT !== 0n) return ctx.status("TDX_OPERAND_INVALID", rcx);
  if ((gpa & sharedBit(ctx, g.td)) !== 0n || aboveGpaw(ctx, g.td, gpa)) {
    return ctx.status("TDX_OPERAND_INVALID", rcx);
  }
  const data = readGuest(ctx, g, gpa, SHA384_BYTES);
  if (!data.ok) return data.done;
  const index = ctx.in("index");
  if (index >= BigInt(g.td.rtmr.length)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("index"));
  }
  const busy = lockRtmrGuest(ctx, g.td, "exclusive");
  if (busy) return busy;
  const i = Number(index);
  g.td.rtmr[i] = new Uint8Array(
    createHash("sha384").update(g.td.rtmr[i]).update(data.bytes).digest(),
  );
  return ctx.ok();
};
