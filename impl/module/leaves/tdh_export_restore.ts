// TDH.EXPORT.RESTORE: after an aborted export (the TD is RUNNABLE again), returns the
// exported pages a GPA list names to their normal state: PENDING for a pending page,
// MAPPED (write access back) otherwise, one less page counted in TDCS.MIG_COUNT. A
// failing entry gets operation NOP and a status in the list and is counted in the
// status detail; an invalid entry stops the call. Interruptible between entries.
import type { LeafContext, LeafHandler } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import { lockKey } from "../locks.ts";
import { entryLockKey, lockEntryHost, septGeometry, setEntry, walk } from "../sept.ts";
import { openTd } from "../sept_steps.ts";
import type { TdState } from "../state.ts";
import {
  entryGpa,
  entryOp,
  entryStatus,
  entryWellFormed,
  type GpaListInfo,
  gpaListInfoAt,
  gpaListInfoInvalid,
  isCancelOrNop,
  readEntry,
  readGpaListInfo,
  writeEntry,
} from "../migration/gpa_list.ts";
import { isPendingState, LEAF_STATES } from "../migration/page_states.ts";
import { migrationOf } from "../migration/session.ts";

export const tdhExportRestore: LeafHandler = (ctx) => {
  const info = readGpaListInfo(ctx);
  let entryNum = info.first;
  const done = (c: Completion) => {
    ctx.out("gpa_list_info", gpaListInfoAt(ctx, info, entryNum));
    return c;
  };
  const opened = openTd(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "shared", "shared");
  if (opened.fail) return done(opened.fail);
  const td = opened.value;
  const tree = ctx.lock(lockKey.septTree(td.tdr), "shared", "SEPT_TREE");
  if (tree) return done(tree);
  const rcx = ctx.operandOf("gpa_list_info");
  if (info.fields.format !== ctx.spec.enumValue("GPA_LIST_FORMAT", "GPA_ONLY")) {
    return done(ctx.status("TDX_OPERAND_INVALID", rcx));
  }
  if (gpaListInfoInvalid(ctx, info)) return done(ctx.status("TDX_OPERAND_INVALID", rcx));

  let problems = 0n;
  for (; entryNum <= info.last; entryNum++) {
    const r = restoreEntry(ctx, td, info, entryNum);
    if (r === "invalid") return done(ctx.status("TDX_OPERAND_INVALID", "GPA_LIST_ENTRY"));
    if (r === "problem") problems++;
    if (entryNum < info.last && ctx.cpu.hostInterruptPending(ctx.lp.id)) {
      entryNum++;
      return done(ctx.status("TDX_INTERRUPTED_RESUMABLE"));
    }
  }
  // The loop's last increment: FIRST_ENTRY ends one past LAST_ENTRY.
  return done(ctx.status("TDX_SUCCESS", problems));
};

function restoreEntry(
  ctx: LeafContext,
  td: TdState,
  info: GpaListInfo,
  i: number,
): "ok" | "skipped" | "problem" | "invalid" {
  const e = readEntry(ctx, info.pa, i);
  const put = (status: string, operation = entryOp(ctx, "NOP")) =>
    writeEntry(ctx, info.pa, i, { ...e, operation, status: entryStatus(ctx, status) });
  if (isCancelOrNop(ctx, e)) {
    if (!entryWellFormed(e)) {
      put("GPA_LIST_ENTRY_INVALID");
      return "invalid";
    }
    put("SKIPPED");
    return "skipped";
  }
  const g = septGeometry(ctx.spec, td);
  const gpa = entryGpa(g, e);
  if (gpa === undefined) {
    put("GPA_LIST_ENTRY_INVALID");
    return "invalid";
  }
  const fail = (status: string) => {
    put(status);
    return "problem" as const;
  };
  const w = walk(ctx.spec, td, g, gpa, 0);
  if (!w.reached) return fail("SEPT_WALK_FAILED");
  if (!lockEntryHost(ctx, td, gpa, 0)) return fail("SEPT_ENTRY_BUSY_HOST_PRIORITY");
  try {
    if (!LEAF_STATES["TDH.EXPORT.RESTORE"].has(w.entry.state)) {
      return fail("SEPT_ENTRY_STATE_INCORRECT");
    }
    const m = migrationOf(td);
    m.migCount -= 1n;
    const state = isPendingState(w.entry.state) ? "PENDING" : "MAPPED";
    setEntry(td, gpa, { ...w.entry, state });
    // A successful entry keeps its operation; only its status is written.
    put("SUCCESS", e.operation);
    return "ok";
  } finally {
    ctx.state.locks.release(entryLockKey(td, gpa, 0), ctx.owner);
  }
}
