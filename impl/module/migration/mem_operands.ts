// The checks TDH.EXPORT.MEM and TDH.IMPORT.MEM open with, in the module's order: the TDR
// and TD state, the migration lock (MIG), the stream index, the stream's lock (MIGSC),
// the Secure EPT tree (SEPT_TREE), then the GPA list, the migration-buffer list and the
// MAC list pages the entries need.
import type { LeafContext } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import { lockKey } from "../locks.ts";
import { openTd } from "../sept_steps.ts";
import type { TdState } from "../state.ts";
import { type GpaListInfo, gpaListInfoInvalid } from "./gpa_list.ts";
import { MAC_LIST_ENTRIES } from "./mem_bundle.ts";
import { migsIndexAndCmd, sharedPageInvalid } from "./operands.ts";
import { lockMigsc, migLockKey, migrationOf, type TdMigration } from "./session.ts";

export interface MemCall {
  td: TdState;
  m: TdMigration;
  /** MIGS_INDEX_AND_CMD: the forward stream and whether the call resumes one. */
  cmd: ReturnType<typeof migsIndexAndCmd>;
  migBuffList: bigint;
  macLists: [bigint, bigint];
}

export function openMemCall(
  ctx: LeafContext,
  info: GpaListInfo,
): { fail: Completion } | { call: MemCall } {
  const invalid = (input: string) => ({
    fail: ctx.status("TDX_OPERAND_INVALID", ctx.operandOf(input)),
  });
  const opened = openTd(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "shared", "shared");
  if (opened.fail) return { fail: opened.fail };
  const td = opened.value;
  const migBusy = ctx.lock(migLockKey.mig(td.tdr), "shared", "MIG");
  if (migBusy) return { fail: migBusy };
  const m = migrationOf(td);
  const cmd = migsIndexAndCmd(ctx);
  if (cmd.reservedSet || cmd.index >= m.links.length - 1) return invalid("migs_index_and_cmd");
  const migscBusy = lockMigsc(ctx, td, cmd.index + 1);
  if (migscBusy) return { fail: migscBusy };
  const tree = ctx.lock(lockKey.septTree(td.tdr), "shared", "SEPT_TREE");
  if (tree) return { fail: tree };
  if (gpaListInfoInvalid(ctx, info)) return invalid("gpa_list_info");
  const migBuffList = ctx.in("mig_buff_list_pa");
  if (sharedPageInvalid(ctx, migBuffList)) return invalid("mig_buff_list_pa");
  const macLists: [bigint, bigint] = [ctx.in("mac_list_0_pa"), ctx.in("mac_list_1_pa")];
  // MACs of entries 0-255 go to the first page, 256-511 to the second: only those needed.
  if (info.first < MAC_LIST_ENTRIES && sharedPageInvalid(ctx, macLists[0])) {
    return invalid("mac_list_0_pa");
  }
  if (info.last >= MAC_LIST_ENTRIES && sharedPageInvalid(ctx, macLists[1])) {
    return invalid("mac_list_1_pa");
  }
  return { call: { td, m, cmd, migBuffList, macLists } };
}
