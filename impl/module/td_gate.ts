// The two checks every TD-scoped SEAMCALL starts with, in the module's order:
// 1. the TDR operand (check_lock_and_map_explicit_tdr): address checks, PAMT lock and
//    page type PT_TDR, each failure naming the operand;
// 2. the TD's state (check_state_map_tdcs_and_lock): not fatal, keys configured, TDCS
//    allocated, the OP_STATE lock (operand OP_STATE), then the leaf's allowed operation
//    states, which the spec lists per leaf in the SEAMCALL_OP_STATES enum.
import type { Completion } from "./completion.ts";
import { checkAndLockHpa } from "./hpa_checks.ts";
import type { LeafContext } from "./leaf_context.ts";
import { lockKey, type LockMode } from "./locks.ts";
import type { TdState } from "./state.ts";
import { tdxLimitN } from "./td_limits.ts";

export type Gate<T> = { fail: Completion; value?: undefined } | { fail?: undefined; value: T };

/** Checks and locks the TDR page operand and finds its TD. */
export function checkTdr(
  ctx: LeafContext,
  tdrPa: bigint,
  operand: string,
  lock: LockMode,
): Gate<TdState> {
  const r = checkAndLockHpa(ctx, tdrPa, operand, { expectedType: "PT_TDR", lock });
  if (r.fail) return { fail: r.fail };
  const td = ctx.state.tds.get(tdrPa);
  if (!td) throw new Error(`PAMT says PT_TDR at 0x${tdrPa.toString(16)} but no TD is recorded`);
  return { value: td };
}

/** Whether OP_STATE `opState` allows `leaf`, by the spec's SEAMCALL_OP_STATES bitmap. */
export function opStateAllows(
  ctx: Pick<LeafContext, "spec">,
  leaf: string,
  opState: string,
): boolean {
  const bitmap = ctx.spec.enumValue("SEAMCALL_OP_STATES", leaf);
  return ((bitmap >> ctx.spec.enumValue("OP_STATE", opState)) & 1n) === 1n;
}

/** The TD state checks; `opStateLock` undefined means the leaf takes no OP_STATE lock. */
export function checkTdState(
  ctx: LeafContext,
  td: TdState,
  opStateLock: LockMode | undefined,
): Completion | undefined {
  if (td.fatal) return ctx.status("TDX_TD_FATAL");
  if (td.lifecycle !== "TD_KEYS_CONFIGURED") return ctx.status("TDX_TD_KEYS_NOT_CONFIGURED");
  if (td.tdcx.length < tdxLimitN(ctx.spec, "MIN_NUM_TDCS_PAGES")) {
    return ctx.status("TDX_TDCS_NOT_ALLOCATED");
  }
  if (opStateLock) {
    const busy = ctx.lock(lockKey.tdcs(td.tdr), opStateLock, "OP_STATE");
    if (busy) return busy;
  }
  if (!opStateAllows(ctx, ctx.leaf.name, td.opState)) return ctx.status("TDX_OP_STATE_INCORRECT");
  return undefined;
}
