// Import failures that end the session: OP_STATE becomes FAILED_IMPORT and the status
// carries the fatal bit (bit 61 of TDX_STATUS), as the module's api_error_fatal does;
// abort_import_session instead lets a TD in LIVE_IMPORT run on (RUNNABLE, no fatal bit).
import type { Completion } from "../completion.ts";
import type { LeafContext } from "../leaf_context.ts";
import type { TdState } from "../state.ts";

/** `c` with TDX_STATUS.fatal set. */
export function withFatalBit(ctx: LeafContext, c: Completion): Completion {
  const bit = ctx.spec.bitfield("TDX_STATUS").fields.find((f) => f.name === "fatal")!.bits[0];
  return { ...c, status: c.status | (1n << BigInt(bit)) };
}

export function failImport(
  ctx: LeafContext,
  td: TdState,
  status: string,
  detail?: string | bigint,
): Completion {
  td.opState = "OP_STATE_FAILED_IMPORT";
  return withFatalBit(ctx, ctx.status(status, detail));
}

/** abort_import_session: LIVE_IMPORT ends as RUNNABLE; any other import state fails. */
export function abortImportSession(
  ctx: LeafContext,
  td: TdState,
  status: string,
  detail?: string | bigint,
): Completion {
  if (td.opState === "OP_STATE_LIVE_IMPORT") {
    td.opState = "OP_STATE_RUNNABLE";
    return ctx.status(status, detail);
  }
  return failImport(ctx, td, status, detail);
}
