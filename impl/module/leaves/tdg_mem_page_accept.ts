// TDG.MEM.PAGE.ACCEPT: the guest accepts a page the host added (PENDING): the page is
// zeroed with the TD's key and mapped. Secure EPT work is in sept.ts (acceptPage).
import type { LeafHandler } from "../leaf_context.ts";
import { currentGuest, eptViolationExit, noCompletion } from "../guest_access.ts";
import { acceptPage } from "../sept.ts";
import { gpaAndLevel } from "./guest_gpa_operand.ts";

/** 4 KiB and 2 MiB pages; a 1 GiB page cannot be accepted. */
const MAX_ACCEPT_LEVEL = 1;

export const tdgMemPageAccept: LeafHandler = (ctx) => {
  const g = currentGuest(ctx);
  const rcx = ctx.operandOf("gpa_and_level");
  const op = gpaAndLevel(ctx, g.td, ctx.in("gpa_and_level"), MAX_ACCEPT_LEVEL);
  if (!op) return ctx.status("TDX_OPERAND_INVALID", rcx);
  const r = acceptPage(ctx, g.td, op.gpa, op.level, () => g.vcpu.guestInterruptPending === true);
  switch (r.kind) {
    case "accepted":
      return ctx.ok();
    case "interrupted":
      return noCompletion(ctx);
    case "already-accepted":
      return ctx.status("TDX_PAGE_ALREADY_ACCEPTED", BigInt(r.level));
    case "size-mismatch":
      return ctx.status("TDX_PAGE_SIZE_MISMATCH", BigInt(r.level));
    case "busy":
      return ctx.status("TDX_OPERAND_BUSY", rcx);
    case "host-priority":
      // The TDCALL dispatcher shows it to the guest as TDX_OPERAND_BUSY (host_priority.ts).
      return ctx.status("TDX_OPERAND_BUSY_HOST_PRIORITY", rcx);
    case "violation":
      return eptViolationExit(ctx, g, {
        kind: "ept-violation",
        gpa: op.gpa,
        shared: false,
        level: r.level,
        state: r.entry.state,
        accept: { level: op.level },
      });
  }
};
