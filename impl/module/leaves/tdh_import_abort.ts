// TDH.IMPORT.ABORT: ends an import session (OP_STATE FAILED_IMPORT) and writes an abort
// token for the source: an MBMD MAC'ed on the backward stream under the session's
// encryption key, with the stream's next counters. The module answers success with the
// fatal bit set.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { mbType } from "../migration/limits.ts";
import { encodeMbmd, macedBytes, withIvCounter, withMac } from "../migration/mbmd.ts";
import { mbmdBuffer } from "../migration/operands.ts";
import { initMigsc, lockMigsc, migrationOf } from "../migration/session.ts";
import { backwardLink, startBundle } from "../migration/streams.ts";
import { withFatalBit } from "../migration/import_failure.ts";

export const tdhImportAbort: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, undefined);
  if (bad) return bad;
  if (ctx.in("migs_index") !== 0n) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("migs_index"));
  }
  const buf = mbmdBuffer(ctx);
  if (buf.fail) return buf.fail;
  const m = migrationOf(td);
  const busy = lockMigsc(ctx, td, 0);
  if (busy) return busy;

  td.opState = "OP_STATE_FAILED_IMPORT";
  const link = backwardLink(m);
  const migsc = link.migsc;
  if (!link.initialized) {
    initMigsc(migsc, m.migEncWorkingKey);
    link.initialized = true;
  }
  migsc.interrupted = undefined;
  migsc.ivCounter += 1n;
  const token = encodeMbmd(ctx.spec, "MBMD_ABORT_TOKEN", {
    mig_version: Number(m.migWorkingVersion),
    migs_index: 0,
    mb_type: mbType(ctx.spec, "ABORT_TOKEN"),
    mb_counter: migsc.nextMbCounter,
    mig_epoch: 0,
    iv_counter: 0n,
  });
  const gcm = startBundle(ctx, migsc, migsc.ivCounter, 0, "encrypt");
  gcm.aad(macedBytes(ctx.spec, token));
  const out = withIvCounter(ctx.spec, withMac(ctx.spec, token, gcm.mac()), migsc.ivCounter);
  ctx.cpu.memory.write(buf.pa, out);
  migsc.nextMbCounter++;
  return withFatalBit(ctx, ctx.ok());
};
