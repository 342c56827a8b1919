// The zero-step attack defence: a host that keeps a private page unmapped can make a
// guest instruction fault again and again without it ever completing. After
// STEPPING_EPF_THRESHOLD EPT-violation exits with no forward progress, the faulting
// private GPAs are logged; while any is logged, TD entry takes the Secure EPT lock and,
// when a logged GPA would still fault, reports the EPT violation again without running
// the guest. Any other TD exit means the guest progressed and clears the log.
import type { Completion } from "./completion.ts";
import type { LeafContext } from "./leaf_context.ts";
import { lockKey } from "./locks.ts";
import { translateGpa } from "./sept.ts";
import type { PendingAsyncExit, TdState, VcpuState } from "./state.ts";
import { tdxLimitN } from "./td_limits.ts";

/** Records a TD exit in the vCPU's stepping log. */
export function logExit(ctx: LeafContext, vcpu: VcpuState, exit?: PendingAsyncExit): void {
  const faulted = exit?.reason === "EPT_VIOLATION" && exit.gpa !== undefined;
  if (!faulted) {
    vcpu.epfStreak = 0;
    vcpu.epfGpas = [];
    return;
  }
  const streak = vcpu.epfStreak ?? 0;
  if (streak < tdxLimitN(ctx.spec, "STEPPING_EPF_THRESHOLD")) {
    vcpu.epfStreak = streak + 1;
    return;
  }
  const list = vcpu.epfGpas ??= [];
  const gpa = exit.gpa!;
  if (!list.includes(gpa) && list.length < tdxLimitN(ctx.spec, "EPF_GPA_LIST_SIZE")) list.push(gpa);
}

/**
 * The entry side: undefined to go on with the entry, TDX_OPERAND_BUSY (SEPT_TREE) when
 * the lock is taken, or the logged GPA that would still fault.
 */
export function entryFilter(
  ctx: LeafContext,
  td: TdState,
  vcpu: VcpuState,
): { busy: Completion } | { faultingGpa: bigint } | undefined {
  const list = vcpu.epfGpas ?? [];
  if (list.length === 0) return undefined;
  const busy = ctx.lock(lockKey.septTree(td.tdr), "exclusive", "SEPT_TREE");
  if (busy) return { busy };
  // The lock is only for this look at the Secure EPT, not while the guest runs.
  ctx.state.locks.release(lockKey.septTree(td.tdr), ctx.owner);
  const stillFaulting = list.find((gpa) => !translateGpa(ctx.spec, td, gpa).ok);
  return stillFaulting === undefined ? undefined : { faultingGpa: stillFaulting };
}
