// TDH.EXPORT.UNBLOCKW: gives a 4 KiB page that TDH.EXPORT.BLOCKW write-blocked its write
// access back. A page already exported becomes EXPORTED_DIRTY (and, if it was clean,
// counts as dirty: it must be exported again before the in-order phase ends).
import type { LeafHandler } from "../leaf_context.ts";
import { septGeometry, setEntry } from "../sept.ts";
import {
  checkAndWalk,
  clearEntryOutputs,
  entryFailure,
  gpaAndLevel,
  lockWalkedEntry,
  openTd,
} from "../sept_steps.ts";
import { migrationOf } from "../migration/session.ts";

/** Each write-blocked state and the state unblocking leaves. */
const UNBLOCKED: Record<string, string> = {
  BLOCKEDW: "MAPPED",
  EXPORTED_BLOCKEDW: "EXPORTED_DIRTY",
  EXPORTED_DIRTY_BLOCKEDW: "EXPORTED_DIRTY",
  PENDING_BLOCKEDW: "PENDING",
  PENDING_EXPORTED_BLOCKEDW: "PENDING_EXPORTED_DIRTY",
  PENDING_EXPORTED_DIRTY_BLOCKEDW: "PENDING_EXPORTED_DIRTY",
};
/** Exported and clean: unblocking makes the page dirty. */
const EXPORTED_CLEAN = new Set(["EXPORTED_BLOCKEDW", "PENDING_EXPORTED_BLOCKEDW"]);

export const tdhExportUnblockw: LeafHandler = (ctx) => {
  const rcxIn = ctx.in("gpa_and_level");
  const tdrPa = ctx.in("tdr_pa");
  clearEntryOutputs(ctx);
  const opened = openTd(ctx, tdrPa, ctx.operandOf("tdr_pa"), "shared", "shared");
  if (opened.fail) return opened.fail;
  const td = opened.value;
  const g = septGeometry(ctx.spec, td);
  // Only 4 KiB pages are write-blocked.
  const op = gpaAndLevel(ctx, rcxIn, 0, 0);
  if (op.fail) return op.fail;
  const { gpa } = op.value;
  const walked = checkAndWalk(ctx, td, g, gpa, 0, "shared");
  if (walked.fail) return walked.fail;
  const locked = lockWalkedEntry(ctx, td, gpa, walked.value);
  if (locked.fail) return locked.fail;
  const entry = locked.value;
  const next = UNBLOCKED[entry.state];
  if (!next) return entryFailure(ctx, "TDX_EPT_ENTRY_STATE_INCORRECT", entry, 0);
  setEntry(td, gpa, { ...entry, state: next });
  if (EXPORTED_CLEAN.has(entry.state)) migrationOf(td).dirtyCount += 1n;
  return ctx.ok();
};
