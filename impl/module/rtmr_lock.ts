// A TD's RTMR lock is a host-priority lock, like the Secure EPT entry locks. The guest takes
// it exclusively for TDG.MR.RTMR.EXTEND and shared for TDG.MR.REPORT and TDG.SERVTD.RD/WR
// (the TDINFO they hash); TDH.SERVTD.BIND takes the service TD's shared, as the host. A
// host that finds it held exclusively asks for priority; until a host attempt gets the
// lock, guest attempts answer TDX_OPERAND_BUSY_HOST_PRIORITY, which the TDCALL dispatcher
// turns into a back-off and, past HP_LOCK_TIMEOUT, a TD exit (host_priority.ts).
import type { LeafContext } from "./leaf_context.ts";
import { type Completion, completion } from "./completion.ts";
import type { LockMode } from "./locks.ts";
import type { TdState } from "./state.ts";

/** The lock's key in the module's lock table. */
export function rtmrLock(td: TdState): string {
  return `rtmr:${td.tdr.toString(16)}`;
}

/** The guest's attempt: host priority wins over a free lock, and over a shared one. */
export function lockRtmrGuest(
  ctx: LeafContext,
  td: TdState,
  mode: LockMode,
): Completion | undefined {
  const key = rtmrLock(td);
  if (td.rtmrHostPriority) {
    // Exclusive: only a lock nobody holds reports the host's priority; shared: always.
    if (mode === "shared" || !ctx.state.locks.isHeld(key)) {
      return completion(ctx.spec, "TDX_OPERAND_BUSY_HOST_PRIORITY", "RTMR");
    }
  }
  return ctx.lock(key, mode, "RTMR");
}

/** The host's shared attempt: it asks for priority when a guest holds the lock. */
export function lockRtmrHost(ctx: LeafContext, td: TdState): Completion | undefined {
  const busy = ctx.lock(rtmrLock(td), "shared", "RTMR");
  td.rtmrHostPriority = busy !== undefined;
  return busy;
}
