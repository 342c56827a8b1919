// TDH.EXPORT.ABORT: ends an export session. Before the post-copy phase no token is
// needed (R8 must be 0); in POST_EXPORT the destination's abort token (an MBMD MAC'ed
// on the backward stream under the session's decryption key) must verify. Every stream
// becomes uninitialized and OP_STATE returns to RUNNABLE.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { mbType, migLimitN } from "../migration/limits.ts";
import { decodeMbmd, macedBytes, macOf, mbmdHeader } from "../migration/mbmd.ts";
import { mbmdBuffer } from "../migration/operands.ts";
import {
  initMigsc,
  lockMig,
  lockMigsc,
  migrationOf,
  uninitializeStreams,
} from "../migration/session.ts";
import { backwardLink, startBundle } from "../migration/streams.ts";

export const tdhExportAbort: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "shared");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, "exclusive");
  if (bad) return bad;
  const busy = lockMig(ctx, td);
  if (busy) return busy;
  const m = migrationOf(td);
  if (ctx.in("migs_index") !== 0n) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("migs_index"));
  }
  const r8 = ctx.operandOf("mbmd_hpa_and_size");
  if (td.opState === "OP_STATE_POST_EXPORT") {
    const buf = mbmdBuffer(ctx);
    if (buf.fail) return buf.fail;
    const mbmd = ctx.cpu.memory.read(buf.pa, migLimitN(ctx.spec, "MBMD_SIZE"));
    const d = decodeMbmd(ctx.spec, "MBMD_ABORT_TOKEN", mbmd);
    const h = mbmdHeader(d);
    const zero = (b: unknown) => (b as Uint8Array).every((x) => x === 0);
    if (
      BigInt(h.mig_version as number) !== m.migWorkingVersion ||
      h.size !== migLimitN(ctx.spec, "MBMD_SIZE") ||
      h.mb_type !== mbType(ctx.spec, "ABORT_TOKEN") || !zero(h.reserved_1) ||
      !zero(d.reserved) || h.migs_index !== 0
    ) {
      return ctx.status("TDX_INVALID_MBMD");
    }
    const migscBusy = lockMigsc(ctx, td, 0);
    if (migscBusy) return migscBusy;
    const link = backwardLink(m);
    if (!link.initialized) {
      initMigsc(link.migsc, m.migDecWorkingKey);
      link.initialized = true;
    }
    link.migsc.interrupted = undefined;
    const gcm = startBundle(
      ctx,
      link.migsc,
      h.iv_counter as bigint,
      h.migs_index as number,
      "decrypt",
    );
    gcm.aad(macedBytes(ctx.spec, mbmd));
    if (!gcm.verify(macOf(ctx.spec, mbmd))) return ctx.status("TDX_INCORRECT_MBMD_MAC");
  } else if (ctx.in("mbmd_hpa_and_size") !== 0n) {
    return ctx.status("TDX_OPERAND_INVALID", r8);
  }
  uninitializeStreams(m);
  td.opState = "OP_STATE_RUNNABLE";
  return ctx.ok();
};
