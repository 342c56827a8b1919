// TDH.MEM.PAGE.ADD: while the TD is being built, copy a page from shared memory into a
// free page under the TD's key, map it MAPPED at a private GPA and measure it into MRTD.
// The TDR is locked exclusively, which keeps the Secure EPT stable without its own lock.
import type { LeafHandler } from "../leaf_context.ts";
import { checkAndLockHpa, sharedHpaInvalid } from "../hpa_checks.ts";
import { mrtdPageAdd } from "../mrtd.ts";
import { checkPrivateGpa, septGeometry, setEntry, walk } from "../sept.ts";
import {
  addChildren,
  clearEntryOutputs,
  entryFailure,
  gpaAndLevel,
  openTd,
} from "../sept_steps.ts";

export const tdhMemPageAdd: LeafHandler = (ctx) => {
  const rcxIn = ctx.in("gpa_and_level");
  const tdrPa = ctx.in("tdr_pa");
  clearEntryOutputs(ctx);
  const opened = openTd(ctx, tdrPa, "RDX", "exclusive", undefined);
  if (opened.fail) return opened.fail;
  const td = opened.value;
  const g = septGeometry(ctx.spec, td);
  const op = gpaAndLevel(ctx, rcxIn, 0, 0);
  if (op.fail) return op.fail;
  const { gpa } = op.value;
  if (!checkPrivateGpa(g, gpa)) return ctx.status("TDX_OPERAND_INVALID", "RCX");
  const w = walk(ctx.spec, td, g, gpa, 0);
  if (!w.reached) return entryFailure(ctx, "TDX_EPT_WALK_FAILED", w.entry, w.level);
  if (w.entry.state !== "FREE") {
    return entryFailure(ctx, "TDX_EPT_ENTRY_STATE_INCORRECT", w.entry, 0);
  }
  const source = ctx.in("source_page_pa");
  if (sharedHpaInvalid(ctx, source, 4096n, 4096n)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("source_page_pa"));
  }
  const target = ctx.in("target_page_pa");
  const t = checkAndLockHpa(ctx, target, ctx.operandOf("target_page_pa"), {
    expectedType: "PT_NDA",
    lock: "exclusive",
  });
  if (t.fail) return t.fail;

  const mem = ctx.cpu.memory;
  mem.write(mem.withKeyId(target, td.hkid), mem.read(source, 4096));
  setEntry(td, gpa, { ...w.entry, state: "MAPPED", hpa: target, level: 0, leaf: true });
  mrtdPageAdd(td, gpa, ctx.spec);
  addChildren(td, 1);
  ctx.state.pamt.set(target, { pageType: "PT_REG", owner: td.tdr, level: 0, bepoch: 0n });
  return ctx.ok();
};
