// TDH.MEM.SEPT.RD: the architectural view of the Secure EPT entry at a GPA and level
// (any state, FREE included); for a debug TD optionally the L2 VMs' attributes too.
import type { LeafHandler } from "../leaf_context.ts";
import { aliasedVms, entryAt, isFree, septGeometry } from "../sept.ts";
import {
  checkAndWalk,
  clearEntryOutputs,
  gpaAndLevel,
  isDebugTd,
  lockWalkedEntry,
  openTd,
  reportEntry,
} from "../sept_steps.ts";

export const tdhMemSeptRd: LeafHandler = (ctx) => {
  const rcxIn = ctx.in("gpa_and_level");
  const handle = ctx.inFields("tdr_and_flags");
  const readL2 = handle.read_l2_attributes === 1n;
  // Only the flag is taken out: other low bits still fail the TDR address checks.
  const tdrPa = ctx.in("tdr_and_flags") & ~1n;
  clearEntryOutputs(ctx);

  const opened = openTd(ctx, tdrPa, "RDX", "shared", "shared");
  if (opened.fail) return opened.fail;
  const td = opened.value;
  if (readL2 && !isDebugTd(ctx, td)) return ctx.status("TDX_OPERAND_INVALID", "RDX");
  const g = septGeometry(ctx.spec, td);
  const op = gpaAndLevel(ctx, rcxIn, 0, g.maxLevel);
  if (op.fail) return op.fail;
  const { gpa, level } = op.value;
  const walked = checkAndWalk(ctx, td, g, gpa, level, "shared");
  if (walked.fail) return walked.fail;
  const locked = lockWalkedEntry(ctx, td, gpa, walked.value);
  if (locked.fail) return locked.fail;
  const entry = locked.value;

  if (readL2) {
    const attrs: Record<string, bigint> = {};
    if (!isFree(entry)) {
      for (const vm of aliasedVms(entry, g.numL2Vms)) {
        attrs[`vm${vm}`] = entryAt(td, level, gpa, vm).attributes;
      }
    }
    ctx.outFields("l2_attributes", attrs);
  }
  reportEntry(ctx, entry, level);
  return ctx.ok();
};
