// TDH.MEM.SEPT.REMOVE: unlink an empty Secure EPT page (and the L2 pages aliasing it)
// and give it back to the host as PT_NDA. While the TD may run, the parent entry must
// have been blocked and tracked first.
import type { LeafHandler } from "../leaf_context.ts";
import {
  aliasedVms,
  childEntries,
  entryAt,
  freeEntry,
  isFree,
  NULL_PA,
  septGeometry,
  setEntry,
} from "../sept.ts";
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

const L2_OUTPUTS = [
  "removed_l2_sept_page_vm1",
  "removed_l2_sept_page_vm2",
  "removed_l2_sept_page_vm3",
];

export const tdhMemSeptRemove: LeafHandler = (ctx) => {
  const v1 = ctx.version > 0;
  const rcxIn = ctx.in("gpa_and_level");
  const tdrPa = ctx.in("tdr_pa");
  clearEntryOutputs(ctx);
  if (v1) { for (const o of L2_OUTPUTS) ctx.out(o, NULL_PA); }

  const opened = openTd(ctx, tdrPa, "RDX", "shared", "shared");
  if (opened.fail) return opened.fail;
  const td = opened.value;
  const g = septGeometry(ctx.spec, td);
  const op = gpaAndLevel(ctx, rcxIn, 1, g.maxLevel);
  if (op.fail) return op.fail;
  const { gpa, level } = op.value;
  const walked = checkAndWalk(ctx, td, g, gpa, level, "exclusive");
  if (walked.fail) return walked.fail;
  const locked = lockWalkedEntry(ctx, td, gpa, walked.value);
  if (locked.fail) return locked.fail;
  const entry = locked.value;
  if (entry.state !== "NL_MAPPED" && entry.state !== "NL_BLOCKED") {
    return entryFailure(ctx, "TDX_EPT_ENTRY_STATE_INCORRECT", entry, level);
  }
  const page = entry.hpa;
  const busy = lockMappedPage(ctx, page);
  if (busy) return busy;
  const notTracked = checkBlockedAndTracked(
    ctx,
    td,
    entry,
    level,
    ctx.state.pamt.get(page).bepoch ?? 0n,
  );
  if (notTracked) return notTracked;
  if (!childEntries(td, gpa, level).every((c) => isFree(c.entry))) {
    return entryFailure(ctx, "TDX_EPT_PAGE_NOT_FREE", entry, level);
  }
  const vms = aliasedVms(entry, g.numL2Vms);
  const l2Pages = new Map<number, bigint>();
  for (const vm of vms) {
    const l2page = entryAt(td, level, gpa, vm).hpa;
    const l2busy = lockMappedPage(ctx, l2page);
    if (l2busy) return l2busy;
    l2Pages.set(vm, l2page);
  }

  for (const [vm, l2page] of l2Pages) {
    setEntry(td, gpa, freeEntry(level, vm), vm);
    ctx.state.pamt.clear(l2page);
    addChildren(td, -1);
    if (v1) ctx.out(L2_OUTPUTS[vm - 1], l2page);
  }
  setEntry(td, gpa, freeEntry(level));
  ctx.state.pamt.clear(page);
  addChildren(td, -1);
  outEntryRegister(ctx, page);
  return ctx.ok();
};
