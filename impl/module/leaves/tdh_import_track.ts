// TDH.IMPORT.TRACK: takes the source's epoch token on forward stream 0. The token must be
// the next one (epoch above the current one, TOTAL_MB one more than the bundles imported,
// counter 0) and its MAC must verify; the out-of-order epoch also needs every vCPU
// imported and moves OP_STATE to POST_IMPORT. Failures end the session (fatal bit).
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { setTdField, tdField } from "../md_fields.ts";
import { mbType, migLimit, migLimitN } from "../migration/limits.ts";
import { decodeMbmd, macedBytes, macOf, mbmdHeader } from "../migration/mbmd.ts";
import { mbmdBuffer } from "../migration/operands.ts";
import { lockMigsc, migrationOf } from "../migration/session.ts";
import { forwardLink, startBundle } from "../migration/streams.ts";
import { failImport } from "../migration/import_failure.ts";

export const tdhImportTrack: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, undefined);
  if (bad) return bad;
  if (ctx.in("migs_index_and_cmd") !== 0n) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("migs_index_and_cmd"));
  }
  const buf = mbmdBuffer(ctx);
  if (buf.fail) return buf.fail;
  const m = migrationOf(td);
  const busy = lockMigsc(ctx, td, 1);
  if (busy) return busy;
  const link = forwardLink(m, 0);
  if (!link.initialized) return ctx.status("TDX_MIGRATION_STREAM_STATE_INCORRECT");
  const migsc = link.migsc;
  migsc.interrupted = undefined;

  const mbmd = ctx.cpu.memory.read(buf.pa, migLimitN(ctx.spec, "MBMD_SIZE"));
  const d = decodeMbmd(ctx.spec, "MBMD_EPOCH_TOKEN", mbmd);
  const h = mbmdHeader(d);
  const epoch = BigInt(h.mig_epoch as number);
  const total = tdField(ctx, td, "TOTAL_MB_COUNT");
  if (
    h.size !== migLimitN(ctx.spec, "MBMD_SIZE") ||
    BigInt(h.mig_version as number) !== m.migWorkingVersion || h.migs_index !== 0 ||
    h.mb_type !== mbType(ctx.spec, "EPOCH_TOKEN") ||
    !(h.reserved_1 as Uint8Array).every((b) => b === 0) || h.mb_counter !== 0 ||
    epoch <= tdField(ctx, td, "MIG_EPOCH") || d.total_mb !== total + 1n
  ) {
    return failImport(ctx, td, "TDX_INVALID_MBMD");
  }
  const gcm = startBundle(ctx, migsc, h.iv_counter as bigint, 0, "decrypt");
  gcm.aad(macedBytes(ctx.spec, mbmd));
  if (!gcm.verify(macOf(ctx.spec, mbmd))) return failImport(ctx, td, "TDX_INCORRECT_MBMD_MAC");
  if (epoch === migLimit(ctx.spec, "MIG_EPOCH_OUT_OF_ORDER")) {
    if (tdField(ctx, td, "NUM_MIGRATED_VCPUS") !== BigInt(td.numVcpus ?? 0)) {
      return failImport(ctx, td, "TDX_SOME_VCPUS_NOT_MIGRATED");
    }
    td.opState = "OP_STATE_POST_IMPORT";
  }
  // Each epoch's bundles count from 0 again.
  migsc.expectedMbCounter = 1;
  setTdField(ctx, td, "TOTAL_MB_COUNT", total + 1n);
  setTdField(ctx, td, "MIG_EPOCH", epoch);
  return ctx.ok();
};
