// TDH.MEM.PAGE.REMOVE: unmap a 4 KiB, 2 MiB or 1 GiB private page and give it back to
// the host as PT_NDA (its cache lines still carry the TD's key: the host flushes them
// with TDH.PHYMEM.PAGE.WBINVD before reuse). While the TD may run, the page must have
// been blocked and tracked first. During an import the leaf becomes REMOVED and keeps
// the migration epoch of its removal, which TDH.IMPORT.MEM checks before a MIGRATE.
import type { LeafHandler } from "../leaf_context.ts";
import { aliasedVms, freeEntry, septGeometry, setEntry } from "../sept.ts";
import { IMPORT_IN_PROGRESS_OP_STATES } from "../sept_states.ts";
import {
  addChildren,
  checkAndWalk,
  checkBlockedAndTracked,
  clearEntryOutputs,
  entryFailure,
  gpaAndLevel,
  lockMappedPage,
  lockWalkedEntry,
  openTd,
  outEntryRegister,
} from "../sept_steps.ts";
import { ENTRIES_PER_PAGE } from "../sept.ts";
import { tdField } from "../md_fields.ts";

const REMOVABLE = new Set([
  "MAPPED",
  "BLOCKED",
  "BLOCKEDW",
  "PENDING",
  "PENDING_BLOCKED",
  "PENDING_BLOCKEDW",
]);

export const tdhMemPageRemove: LeafHandler = (ctx) => {
  const rcxIn = ctx.in("gpa_and_level");
  const tdrPa = ctx.in("tdr_pa");
  clearEntryOutputs(ctx);
  const opened = openTd(ctx, tdrPa, "RDX", "shared", "shared");
  if (opened.fail) return opened.fail;
  const td = opened.value;
  const g = septGeometry(ctx.spec, td);
  const op = gpaAndLevel(ctx, rcxIn, 0, 2);
  if (op.fail) return op.fail;
  const { gpa, level } = op.value;
  const walked = checkAndWalk(ctx, td, g, gpa, level, "shared");
  if (walked.fail) return walked.fail;
  const locked = lockWalkedEntry(ctx, td, gpa, walked.value);
  if (locked.fail) return locked.fail;
  const entry = locked.value;
  if (!entry.leaf || !REMOVABLE.has(entry.state)) {
    return entryFailure(ctx, "TDX_EPT_ENTRY_STATE_INCORRECT", entry, level);
  }
  const page = entry.hpa;
  const busy = lockMappedPage(ctx, page);
  if (busy) return busy;
  const bepoch = ctx.state.pamt.get(page).bepoch ?? 0n;
  const notTracked = checkBlockedAndTracked(ctx, td, entry, level, bepoch);
  if (notTracked) return notTracked;

  for (const vm of aliasedVms(entry, g.numL2Vms)) setEntry(td, gpa, freeEntry(level, vm), vm);
  setEntry(
    td,
    gpa,
    IMPORT_IN_PROGRESS_OP_STATES.has(td.opState)
      ? { ...freeEntry(level), state: "REMOVED", migEpoch: tdField(ctx, td, "MIG_EPOCH") }
      : freeEntry(level),
  );
  addChildren(td, -(ENTRIES_PER_PAGE ** level));
  ctx.state.pamt.clear(page);
  outEntryRegister(ctx, page);
  return ctx.ok();
};
