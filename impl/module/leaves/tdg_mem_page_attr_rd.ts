// TDG.MEM.PAGE.ATTR.RD: how a private GPA is mapped (leaf level, aligned GPA, PENDING)
// and the attributes of each L2 VM's alias of the page.
import type { LeafHandler } from "../leaf_context.ts";
import { currentGuest, eptViolationExit } from "../guest_access.ts";
import {
  alignDown,
  checkPrivateGpa,
  isAliased,
  l2Entry,
  lockEntryGuest,
  septGeometry,
  walk,
} from "../sept.ts";
import { traits } from "../sept_states.ts";
import { joinWords, l2Attributes, MAX_VMS } from "./guest_gpa_attr.ts";

export const tdgMemPageAttrRd: LeafHandler = (ctx) => {
  // RCX and RDX are outputs too: take the input first.
  const gpa = ctx.in("gpa");
  ctx.out("gpa_mapping", 0n);
  ctx.out("attributes", 0n);
  const g = currentGuest(ctx);
  const rcx = ctx.operandOf("gpa");
  const geo = septGeometry(ctx.spec, g.td);
  if (!checkPrivateGpa(geo, gpa)) return ctx.status("TDX_OPERAND_INVALID", rcx);
  const w = walk(ctx.spec, g.td, geo, gpa, 0);
  const lock = lockEntryGuest(ctx, g.td, gpa, w.level);
  if (lock === "busy") return ctx.status("TDX_OPERAND_BUSY", rcx);
  // The TDCALL dispatcher shows it to the guest as TDX_OPERAND_BUSY (host_priority.ts).
  if (lock === "host-priority") return ctx.status("TDX_OPERAND_BUSY_HOST_PRIORITY", rcx);
  const t = traits(w.entry.state);
  // Any leaf but a fully blocked one may be read.
  if (!w.entry.leaf || t.blocked) {
    return eptViolationExit(ctx, g, {
      kind: "ept-violation",
      gpa: alignDown(gpa, 0),
      shared: false,
      level: w.level,
      state: w.entry.state,
    });
  }
  const words = Array.from({ length: MAX_VMS }, () => 0n);
  for (let vm = 1; vm <= geo.numL2Vms; vm++) {
    if (!isAliased(w.entry, vm)) continue;
    words[vm] = l2Attributes(ctx.spec, l2Entry(g.td, vm, gpa, w.level).attributes, t.blockedW);
  }
  ctx.outFields("gpa_mapping", {
    LEVEL: BigInt(w.level),
    GPA: alignDown(gpa, w.level) >> 12n,
    PENDING: t.pending ? 1n : 0n,
  });
  ctx.out("attributes", joinWords(words));
  return ctx.ok();
};
