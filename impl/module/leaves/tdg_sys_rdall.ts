// TDG.SYS.RDALL: dumps the guest-readable global metadata, from a given field, into a
// metadata list in a private 4 KiB guest page.
import type { LeafHandler } from "../leaf_context.ts";
import { aboveGpaw, currentGuest, guestMdContext, mapGuest, sharedBit } from "../guest_access.ts";
import { FIELD_ID_NA, mdDumpList, withContext } from "../metadata.ts";

export const tdgSysRdall: LeafHandler = (ctx) => {
  // R8 carries the start field in and the next field out.
  const start = withContext(ctx.spec, ctx.in("field_id"), "global");
  ctx.out("next_field_id", FIELD_ID_NA);
  const g = currentGuest(ctx);
  const gpa = ctx.in("md_list_gpa");
  const rdx = ctx.operandOf("md_list_gpa");
  const page = ctx.spec.tdcall("TDG.SYS.RDALL").memory_operands![0];
  if (gpa % BigInt(page.alignment) !== 0n) return ctx.status("TDX_OPERAND_INVALID", rdx);
  if ((gpa & sharedBit(ctx, g.td)) !== 0n || aboveGpaw(ctx, g.td, gpa)) {
    return ctx.status("TDX_OPERAND_INVALID", rdx);
  }
  const target = mapGuest(ctx, g, gpa);
  if (!target.ok) return target.done;
  // The module build's fill limit applies to both RDALL leaves (module_profile.ts).
  const limit = Math.min(page.size, ctx.state.profile.mdListBytes);
  const r = mdDumpList(guestMdContext(ctx, g), "global", start, { who: "guest" }, limit);
  if (r.list) ctx.cpu.memory.write(target.pa, r.list);
  ctx.out("next_field_id", r.next);
  return ctx.status(r.status);
};
