// TDH.MEM.RANGE.UNBLOCK: undo TDH.MEM.RANGE.BLOCK once the block has been tracked (when
// the TD may run): NL_BLOCKED, BLOCKED and PENDING_BLOCKED go back to NL_MAPPED, MAPPED
// and PENDING, with the L2 aliases of a non-pending entry.
import type { LeafHandler } from "../leaf_context.ts";
import { aliasedVms, septGeometry, setEntry, unblockAliases } from "../sept.ts";
import { TLB_TRACKING_OP_STATES, traits, unblockedState } from "../sept_states.ts";
import {
  checkAndWalk,
  clearEntryOutputs,
  entryFailure,
  gpaAndLevel,
  lockWalkedEntry,
  openTd,
} from "../sept_steps.ts";
import { isTlbTracked } from "../tlb_tracking.ts";

const UNBLOCKABLE = new Set(["NL_BLOCKED", "BLOCKED", "PENDING_BLOCKED"]);

export const tdhMemRangeUnblock: LeafHandler = (ctx) => {
  const rcxIn = ctx.in("gpa_and_level");
  const tdrPa = ctx.in("tdr_pa");
  clearEntryOutputs(ctx);
  const opened = openTd(ctx, tdrPa, "RDX", "shared", "shared");
  if (opened.fail) return opened.fail;
  const td = opened.value;
  const g = septGeometry(ctx.spec, td);
  const op = gpaAndLevel(ctx, rcxIn, 0, g.maxLevel);
  if (op.fail) return op.fail;
  const { gpa, level } = op.value;
  const walked = checkAndWalk(ctx, td, g, gpa, level, "exclusive");
  if (walked.fail) return walked.fail;
  const locked = lockWalkedEntry(ctx, td, gpa, walked.value);
  if (locked.fail) return locked.fail;
  const entry = locked.value;
  if (!UNBLOCKABLE.has(entry.state)) {
    return entryFailure(ctx, "TDX_EPT_ENTRY_STATE_INCORRECT", entry, level);
  }
  const t = traits(entry.state);
  if (t.tlbTracking && TLB_TRACKING_OP_STATES.has(td.opState)) {
    const bepoch = ctx.state.pamt.get(entry.hpa).bepoch ?? 0n;
    // The module names the tree, not RCX, here.
    if (!isTlbTracked(td, bepoch)) return ctx.status("TDX_TLB_TRACKING_NOT_DONE", "SEPT_TREE");
  }

  if (!t.pending) unblockAliases(td, gpa, level, aliasedVms(entry, g.numL2Vms));
  setEntry(td, gpa, { ...entry, state: unblockedState(entry.state) });
  return ctx.ok();
};
