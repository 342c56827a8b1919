// TDH.MEM.PAGE.DEMOTE: split a 2 MiB (or 1 GiB) leaf into 512 leaves of the next size
// held in a new Secure EPT page, with new L2 Secure EPT pages for the L2 VMs (all of
// them, or in sparse mode only those aliasing the page). Nothing changes until every
// check has passed; a pending host interrupt stops the call with nothing done.
import type { LeafHandler } from "../leaf_context.ts";
import { checkAndLockHpa } from "../hpa_checks.ts";
import { lockKey } from "../locks.ts";
import {
  alignDown,
  ENTRIES_PER_PAGE,
  isAliased,
  levelSize,
  NULL_PA,
  septGeometry,
  setEntry,
  walk,
  withAlias,
} from "../sept.ts";
import { traits, unblockedState } from "../sept_states.ts";
import type { SeptEntry } from "../state.ts";
import {
  checkAndWalk,
  checkBlockedAndTracked,
  clearEntryOutputs,
  entryFailure,
  gpaAndLevel,
  hostInterruptPending,
  isDebugTd,
  lockWalkedEntry,
  openTd,
  reportEntry,
} from "../sept_steps.ts";
import { initSeptPage } from "./tdh_mem_sept_add.ts";

const BIT63 = 1n << 63n;
const L2_PAGE_INPUTS = ["l2_sept_page_pa_vm1", "l2_sept_page_pa_vm2", "l2_sept_page_pa_vm3"];
const DEMOTABLE = new Set(["MAPPED", "BLOCKED", "PENDING", "PENDING_BLOCKED"]);

export const tdhMemPageDemote: LeafHandler = (ctx) => {
  const rcxIn = ctx.in("gpa_and_level");
  const rdxIn = ctx.in("tdr_and_flags");
  const pages = [ctx.in("sept_page_pa"), ...L2_PAGE_INPUTS.map((n) => ctx.in(n))];
  const handle = ctx.inFields("tdr_and_flags");
  clearEntryOutputs(ctx);

  if (handle.reserved_11_1 !== 0n || handle.reserved_63_52 !== 0n) {
    return ctx.status("TDX_OPERAND_INVALID", "RDX");
  }
  const sparse = handle.flag === 1n;
  const opened = openTd(ctx, handle.tdr_hpa << 12n, "RDX", "shared", "shared");
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
  const entry = { ...locked.value, acceptCounter: undefined };
  if (!DEMOTABLE.has(entry.state)) {
    return entryFailure(ctx, "TDX_EPT_ENTRY_STATE_INCORRECT", entry, level);
  }
  const large = entry.hpa;
  const bepoch = ctx.state.pamt.get(large).bepoch ?? 0n;
  const notTracked = checkBlockedAndTracked(ctx, td, entry, level, bepoch);
  if (notTracked) return notTracked;
  const l1 = checkAndLockHpa(ctx, pages[0], ctx.operandOf("sept_page_pa"), {
    expectedType: "PT_NDA",
    lock: "exclusive",
  });
  if (l1.fail) return l1.fail;

  // Which L2 VMs get a new page: every one, or (sparse) those aliasing the page.
  const l2Vms: number[] = [];
  for (let vm = 1; vm <= g.numL2Vms; vm++) {
    const operand = ctx.operandOf(L2_PAGE_INPUTS[vm - 1]);
    if (pages[vm] === NULL_PA) {
      if (isAliased(entry, vm)) return ctx.status("TDX_L2_SEPT_PAGE_NOT_PROVIDED", operand);
    } else if (!sparse || isAliased(entry, vm)) {
      pages[vm] &= ~BIT63;
      const r = checkAndLockHpa(ctx, pages[vm], operand, {
        expectedType: "PT_NDA",
        lock: "exclusive",
      });
      if (r.fail) return r.fail;
      l2Vms.push(vm);
    } else pages[vm] |= BIT63;
  }

  const restartable = () => {
    ctx.out("sept_entry", rcxIn);
    ctx.out("sept_level_and_state", rdxIn);
    return ctx.status("TDX_INTERRUPTED_RESTARTABLE");
  };
  const split = { ...entry, state: unblockedState(entry.state) };
  const childLevel = level - 1;
  const childSize = levelSize(childLevel);
  const children = (parent: SeptEntry) =>
    Array.from({ length: ENTRIES_PER_PAGE }, (_, i) => ({
      gpa: alignDown(gpa, level) + BigInt(i) * childSize,
      entry: { ...parent, level: childLevel, hpa: parent.hpa + BigInt(i) * childSize },
    }));
  const l2Splits = new Map<number, SeptEntry | undefined>();
  for (const vm of l2Vms) {
    if (hostInterruptPending(ctx)) return restartable();
    const w = walk(ctx.spec, td, g, gpa, level, vm);
    if (!w.reached) {
      reportEntry(ctx, w.entry, w.level, { vm, debug: isDebugTd(ctx, td) });
      return ctx.status("TDX_L2_SEPT_WALK_FAILED", (BigInt(vm) << 16n) | BigInt(w.level));
    }
    // An aliased L2 leaf is split like the L1 one; other VMs get an empty page.
    const l2 = w.entry;
    l2Splits.set(
      vm,
      isAliased(entry, vm)
        ? { ...l2, state: traits(entry.state).pending ? l2.state : unblockedState(l2.state) }
        : undefined,
    );
  }
  if (hostInterruptPending(ctx)) return restartable();
  const busy = ctx.lock(lockKey.page(large), "exclusive", "RCX");
  if (busy) return busy;

  // Commit: the PAMT entry of the large page becomes 512 smaller ones.
  const pamt = ctx.state.pamt;
  const owner = pamt.get(large);
  for (let i = 0; i < ENTRIES_PER_PAGE; i++) {
    pamt.set(large + BigInt(i) * childSize, {
      pageType: owner.pageType,
      owner: owner.owner,
      level: childLevel,
      bepoch: 0n,
    });
  }
  initSeptPage(ctx, td, pages[0]);
  for (const c of children(split)) setEntry(td, c.gpa, c.entry);
  let parent: SeptEntry = { ...entry, state: "NL_MAPPED", hpa: pages[0], leaf: false, aliases: 0 };
  for (const [vm, l2split] of l2Splits) {
    initSeptPage(ctx, td, pages[vm]);
    if (l2split) { for (const c of children(l2split)) setEntry(td, c.gpa, c.entry, vm); }
    setEntry(td, gpa, {
      state: "L2_NL_MAPPED",
      hpa: pages[vm],
      level,
      leaf: false,
      attributes: 0n,
    }, vm);
    parent = withAlias(parent, vm, true);
  }
  setEntry(td, gpa, parent);
  L2_PAGE_INPUTS.forEach((n, i) => ctx.out(n, pages[i + 1]));
  return ctx.ok();
};
