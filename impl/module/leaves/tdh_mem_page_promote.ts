// TDH.MEM.PAGE.PROMOTE: merge the 512 leaves of a Secure EPT page (all MAPPED or all
// PENDING, identical, physically contiguous and aligned) into one 2 MiB or 1 GiB leaf,
// and free that page and the L2 pages aliasing it. Version 1 returns the freed L2 pages.
import type { LeafHandler } from "../leaf_context.ts";
import { lockKey } from "../locks.ts";
import {
  aliasedVms,
  childEntries,
  freeEntry,
  isFree,
  levelSize,
  lockEntryHost,
  NULL_PA,
  septGeometry,
  setEntry,
  walk,
} from "../sept.ts";
import { traits } from "../sept_states.ts";
import type { SeptEntry, TdState } from "../state.ts";
import {
  addChildren,
  checkAndWalk,
  checkBlockedAndTracked,
  clearEntryOutputs,
  entryFailure,
  gpaAndLevel,
  hostInterruptPending,
  lockMappedPage,
  lockWalkedEntry,
  openTd,
  outEntryRegister,
} from "../sept_steps.ts";

const L2_OUTPUTS = ["freed_l2_sept_page_vm1", "freed_l2_sept_page_vm2", "freed_l2_sept_page_vm3"];

/** Two entries are equal but for the page they map (and a pending accept counter). */
function sameButAddress(a: SeptEntry, b: SeptEntry): boolean {
  return a.state === b.state && a.attributes === b.attributes &&
    (a.aliases ?? 0) === (b.aliases ?? 0);
}

export const tdhMemPagePromote: LeafHandler = (ctx) => {
  const v1 = ctx.version > 0;
  const rcxIn = ctx.in("gpa_and_level");
  const rdxIn = ctx.in("tdr_pa");
  clearEntryOutputs(ctx);
  if (v1) { for (const o of L2_OUTPUTS) ctx.out(o, NULL_PA); }

  const opened = openTd(ctx, rdxIn, "RDX", "shared", "shared");
  if (opened.fail) return opened.fail;
  const td = opened.value;
  const g = septGeometry(ctx.spec, td);
  const op = gpaAndLevel(ctx, rcxIn, 1, 2);
  if (op.fail) return op.fail;
  const { gpa, level } = op.value;
  const walked = checkAndWalk(ctx, td, g, gpa, level, "shared");
  if (walked.fail) return walked.fail;
  const locked = lockWalkedEntry(ctx, td, gpa, walked.value);
  if (locked.fail) return locked.fail;
  const parent = locked.value;
  if (parent.state !== "NL_MAPPED" && parent.state !== "NL_BLOCKED") {
    return entryFailure(ctx, "TDX_EPT_ENTRY_STATE_INCORRECT", parent, level);
  }
  const septPage = parent.hpa;
  const busy = lockMappedPage(ctx, septPage);
  if (busy) return busy;
  const bepoch = ctx.state.pamt.get(septPage).bepoch ?? 0n;
  const notTracked = checkBlockedAndTracked(ctx, td, parent, level, bepoch);
  if (notTracked) return notTracked;

  const mergedSize = levelSize(level);
  const childSize = levelSize(level - 1);
  const invalid = () => entryFailure(ctx, "TDX_EPT_INVALID_PROMOTE_CONDITIONS", parent, level);
  const children = childEntries(td, gpa, level).map((c) => ({
    ...c,
    entry: { ...c.entry, acceptCounter: undefined },
  }));
  // Each child is locked, then compared with the first (module order: lock, then check).
  for (const [i, c] of children.entries()) {
    if (!lockEntryHost(ctx, td, c.gpa, level - 1)) {
      return entryFailure(ctx, "TDX_OPERAND_BUSY", parent, level);
    }
    const first = children[0].entry;
    if (i === 0) {
      if (first.hpa % mergedSize !== 0n || !traits(first.state).mappedOrPending) return invalid();
    } else if (
      !sameButAddress(c.entry, first) || c.entry.hpa !== first.hpa + BigInt(i) * childSize
    ) return invalid();
  }

  const restartable = () => {
    outEntryRegister(ctx, rcxIn);
    ctx.out("sept_level_and_state", rdxIn);
    return ctx.status("TDX_INTERRUPTED_RESTARTABLE");
  };
  const l2Pages = new Map<number, bigint>();
  for (const vm of aliasedVms(parent, g.numL2Vms)) {
    if (hostInterruptPending(ctx)) return restartable();
    const w = walk(ctx.spec, td, g, gpa, level, vm);
    if (!w.reached || w.entry.leaf || isFree(w.entry)) {
      throw new Error(`L2 VM ${vm} aliases the page but has no L2 Secure EPT page there`);
    }
    const l2busy = lockMappedPage(ctx, w.entry.hpa);
    if (l2busy) return l2busy;
    l2Pages.set(vm, w.entry.hpa);
    if (!l2Mergeable(td, gpa, level, vm, mergedSize)) return invalid();
  }
  if (hostInterruptPending(ctx)) return restartable();
  const merged = children[0].entry.hpa;
  const mergeBusy = ctx.lock(lockKey.page(merged), "exclusive", "RCX");
  if (mergeBusy) return mergeBusy;

  // Commit: one PAMT entry for the range, the parents become the merged leaves.
  const pamt = ctx.state.pamt;
  const first = pamt.get(merged);
  for (let i = 0; i < 512; i++) pamt.clear(merged + BigInt(i) * childSize);
  pamt.set(merged, { pageType: first.pageType, owner: first.owner, level, bepoch: 0n });
  const promote = (vm: number, page: bigint) => {
    const firstChild = childEntries(td, gpa, level, vm)[0].entry;
    for (const c of childEntries(td, gpa, level, vm)) {
      setEntry(td, c.gpa, freeEntry(level - 1, vm), vm);
    }
    setEntry(td, gpa, { ...firstChild, level, acceptCounter: undefined }, vm);
    pamt.clear(page);
    addChildren(td, -1);
  };
  for (const [vm, page] of l2Pages) {
    promote(vm, page);
    if (v1) ctx.out(L2_OUTPUTS[vm - 1], page);
  }
  promote(0, septPage);
  outEntryRegister(ctx, septPage);
  return ctx.ok();
};

/** is_l2_sept_page_valid_for_merge: all L2_FREE, or identical aligned leaves. */
function l2Mergeable(td: TdState, gpa: bigint, level: number, vm: number, size: bigint): boolean {
  const children = childEntries(td, gpa, level, vm);
  const first = children[0].entry;
  if (!isFree(first) && (first.hpa % size !== 0n || !first.leaf)) return false;
  return children.every((c) => sameButAddress(c.entry, first));
}
