// TDH.MEM.PAGE.AUG: give a running (or still building) TD a 4 KiB or 2 MiB page at a
// private GPA, mapped PENDING until the guest accepts it with TDG.MEM.PAGE.ACCEPT, which
// also zeroes it. The page contents are not touched here.
import type { LeafContext, LeafHandler } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import { hpaOperandInvalid, inTdmr } from "../hpa_checks.ts";
import { lockKey } from "../locks.ts";
import { ENTRIES_PER_PAGE, levelSize, septGeometry, setEntry } from "../sept.ts";
import {
  addChildren,
  checkAndWalk,
  clearEntryOutputs,
  entryFailure,
  gpaAndLevel,
  lockWalkedEntry,
  openTd,
} from "../sept_steps.ts";

/**
 * check_and_lock_free_range_hpa: a free 4 KiB page, or a 2 MiB range whose PAMT entry
 * and all 512 4 KiB entries are PT_NDA, locked exclusively.
 */
export function checkFreeRange(
  ctx: LeafContext,
  pa: bigint,
  operand: string,
  level: number,
): Completion | undefined {
  if (hpaOperandInvalid(ctx, pa, levelSize(level))) {
    return ctx.status("TDX_OPERAND_INVALID", operand);
  }
  if (!inTdmr(ctx, pa)) return ctx.status("TDX_OPERAND_ADDR_RANGE_ERROR", operand);
  const busy = ctx.lock(lockKey.page(pa), "exclusive", operand);
  if (busy) return busy;
  const pamt = ctx.state.pamt;
  const free = pamt.leaf(pa).entry.pageType === "PT_NDA" &&
    (level === 0 ||
      Array.from({ length: ENTRIES_PER_PAGE }, (_, i) => pa + BigInt(i) * 4096n)
        .every((p) => pamt.get(p).pageType === "PT_NDA"));
  return free ? undefined : ctx.status("TDX_PAGE_METADATA_INCORRECT", operand);
}

export const tdhMemPageAug: LeafHandler = (ctx) => {
  const rcxIn = ctx.in("gpa_and_level");
  const tdrPa = ctx.in("tdr_pa");
  clearEntryOutputs(ctx);
  const opened = openTd(ctx, tdrPa, "RDX", "shared", "shared");
  if (opened.fail) return opened.fail;
  const td = opened.value;
  const g = septGeometry(ctx.spec, td);
  const op = gpaAndLevel(ctx, rcxIn, 0, 1);
  if (op.fail) return op.fail;
  const { gpa, level } = op.value;
  const walked = checkAndWalk(ctx, td, g, gpa, level, "shared");
  if (walked.fail) return walked.fail;
  const locked = lockWalkedEntry(ctx, td, gpa, walked.value);
  if (locked.fail) return locked.fail;
  const entry = locked.value;
  if (entry.state !== "FREE" && entry.state !== "REMOVED") {
    return entryFailure(ctx, "TDX_EPT_ENTRY_STATE_INCORRECT", entry, level);
  }
  const target = ctx.in("target_page_pa");
  const bad = checkFreeRange(ctx, target, ctx.operandOf("target_page_pa"), level);
  if (bad) return bad;

  setEntry(td, gpa, { ...entry, state: "PENDING", hpa: target, level, leaf: true });
  addChildren(td, ENTRIES_PER_PAGE ** level);
  ctx.state.pamt.set(target, { pageType: "PT_REG", owner: td.tdr, level, bepoch: 0n });
  return ctx.ok();
};
