// TDH.MEM.RANGE.BLOCK: block a leaf or a whole subtree so that no new guest translation
// of it can be made, and record the TD epoch in the PAMT entry of the page below it
// (BEPOCH); after TDH.MEM.TRACK the range may be unmapped.
import type { LeafHandler } from "../leaf_context.ts";
import { aliasedVms, entryAt, septGeometry, setEntry } from "../sept.ts";
import { blockedState, traits } from "../sept_states.ts";
import {
  checkAndWalk,
  clearEntryOutputs,
  entryFailure,
  gpaAndLevel,
  lockWalkedEntry,
  openTd,
} from "../sept_steps.ts";

export const tdhMemRangeBlock: LeafHandler = (ctx) => {
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
  const next = blockedState(entry.state);
  if (!next) {
    const status = traits(entry.state).blocked
      ? "TDX_GPA_RANGE_ALREADY_BLOCKED"
      : "TDX_EPT_ENTRY_STATE_INCORRECT";
    return entryFailure(ctx, status, entry, level);
  }

  setEntry(td, gpa, { ...entry, state: next });
  for (const vm of aliasedVms(entry, g.numL2Vms)) {
    const l2 = entryAt(td, level, gpa, vm);
    const l2next = l2.leaf ? "L2_BLOCKED" : "L2_NL_BLOCKED";
    setEntry(td, gpa, { ...l2, state: l2next }, vm);
  }
  // The page whose translations may be cached: the mapped page, or the Secure EPT page.
  const pamt = ctx.state.pamt;
  pamt.set(entry.hpa, { ...pamt.get(entry.hpa), bepoch: td.epoch });
  return ctx.ok();
};
