// TDH.EXPORT.TRACK: closes a migration epoch on forward stream 0 with an epoch token. The
// plain command starts the next in-order epoch; the "in-order done" command (allowed
// once the TD is paused and no exported page is dirty) starts the out-of-order phase:
// MIG_EPOCH becomes MIG_EPOCH_OUT_OF_ORDER and OP_STATE POST_EXPORT.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { setTdField, tdField } from "../md_fields.ts";
import { migLimit } from "../migration/limits.ts";
import { mbmdBuffer, migsIndexAndCmd } from "../migration/operands.ts";
import { lockMig, lockMigsc, migrationOf } from "../migration/session.ts";
import { forwardLink } from "../migration/streams.ts";
import { sealEpochToken } from "../migration/epoch_token.ts";
import { migVersion } from "../servtd.ts";

export const tdhExportTrack: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "shared");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, "exclusive");
  if (bad) return bad;
  const busy = lockMig(ctx, td);
  if (busy) return busy;
  const cmd = migsIndexAndCmd(ctx);
  if (cmd.index !== 0 || cmd.reservedSet) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("migs_index_and_cmd"));
  }
  const buf = mbmdBuffer(ctx);
  if (buf.fail) return buf.fail;
  const m = migrationOf(td);
  const migscBusy = lockMigsc(ctx, td, 1);
  if (migscBusy) return migscBusy;
  const link = forwardLink(m, 0);
  if (!link.initialized) return ctx.status("TDX_MIGRATION_STREAM_STATE_INCORRECT");

  const outOfOrder = migLimit(ctx.spec, "MIG_EPOCH_OUT_OF_ORDER");
  if (!cmd.resume) {
    const epoch = tdField(ctx, td, "MIG_EPOCH");
    if (epoch === outOfOrder - 1n) return ctx.status("TDX_MIGRATION_EPOCH_OVERFLOW");
    setTdField(ctx, td, "MIG_EPOCH", epoch + 1n);
  } else {
    // The command bit's second meaning here: the in-order phase is done.
    if (td.opState !== "OP_STATE_PAUSED_EXPORT") return ctx.status("TDX_OP_STATE_INCORRECT");
    if (m.dirtyCount !== 0n) return ctx.status("TDX_EXPORTED_DIRTY_PAGES_REMAIN");
    setTdField(ctx, td, "MIG_EPOCH", outOfOrder);
    td.opState = "OP_STATE_POST_EXPORT";
  }
  const migsc = link.migsc;
  migsc.interrupted = undefined;
  const total = tdField(ctx, td, "TOTAL_MB_COUNT") + 1n;
  setTdField(ctx, td, "TOTAL_MB_COUNT", total);
  // The module stamps the TD's MIG_VERSION here (not the session's working copy).
  const token = sealEpochToken(
    ctx,
    migsc,
    migVersion(ctx.spec, td),
    tdField(ctx, td, "MIG_EPOCH"),
    total,
  );
  ctx.cpu.memory.write(buf.pa, token);
  migsc.nextMbCounter = 1;
  return ctx.ok();
};
