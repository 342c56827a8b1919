// TDH.MEM.PAGE.RELOCATE: move a mapped 4 KiB private page to another physical page:
// copy it under the TD's key (a PENDING page has nothing to copy), point the entry (and
// its L2 aliases) at the new page, unblock it and free the old page.
import type { LeafHandler } from "../leaf_context.ts";
import { checkAndLockHpa } from "../hpa_checks.ts";
import { aliasedVms, entryAt, septGeometry, setEntry, unblockAliases } from "../sept.ts";
import { traits, unblockedState } from "../sept_states.ts";
import {
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

export const tdhMemPageRelocate: LeafHandler = (ctx) => {
  const rcxIn = ctx.in("gpa_and_level");
  const tdrPa = ctx.in("tdr_pa");
  clearEntryOutputs(ctx);
  const opened = openTd(ctx, tdrPa, "RDX", "shared", "shared");
  if (opened.fail) return opened.fail;
  const td = opened.value;
  const g = septGeometry(ctx.spec, td);
  const op = gpaAndLevel(ctx, rcxIn, 0, 0);
  if (op.fail) return op.fail;
  const { gpa } = op.value;
  const walked = checkAndWalk(ctx, td, g, gpa, 0, "shared");
  if (walked.fail) return walked.fail;
  const locked = lockWalkedEntry(ctx, td, gpa, walked.value);
  if (locked.fail) return locked.fail;
  const entry = locked.value;
  // Any leaf state from MAPPED on: MAPPED, BLOCKED*, EXPORTED_*, PENDING*.
  if (!entry.leaf) return entryFailure(ctx, "TDX_EPT_ENTRY_STATE_INCORRECT", entry, 0);
  const source = entry.hpa;
  const target = ctx.in("target_page_pa");
  const targetOperand = ctx.operandOf("target_page_pa");
  if (source === target) return ctx.status("TDX_OPERAND_INVALID", targetOperand);
  const busy = lockMappedPage(ctx, source);
  if (busy) return busy;
  const bepoch = ctx.state.pamt.get(source).bepoch ?? 0n;
  const notTracked = checkBlockedAndTracked(ctx, td, entry, 0, bepoch);
  if (notTracked) return notTracked;
  const t = checkAndLockHpa(ctx, target, targetOperand, {
    expectedType: "PT_NDA",
    lock: "exclusive",
  });
  if (t.fail) return t.fail;

  const pending = traits(entry.state).pending;
  if (!pending) {
    const mem = ctx.cpu.memory;
    mem.write(mem.withKeyId(target, td.hkid), mem.read(mem.withKeyId(source, td.hkid), 4096));
  }
  ctx.state.pamt.clear(source);
  ctx.state.pamt.set(target, { pageType: "PT_REG", owner: td.tdr, level: 0, bepoch: 0n });
  const vms = aliasedVms(entry, g.numL2Vms);
  for (const vm of vms) setEntry(td, gpa, { ...entryAt(td, 0, gpa, vm), hpa: target }, vm);
  if (!pending) unblockAliases(td, gpa, 0, vms);
  setEntry(td, gpa, { ...entry, hpa: target, state: unblockedState(entry.state) });
  outEntryRegister(ctx, source);
  return ctx.ok();
};
