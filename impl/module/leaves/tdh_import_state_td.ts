// TDH.IMPORT.STATE.TD: imports the source's mutable TD-scope state (one bundle on forward
// stream 0) into a TD in MEMORY_IMPORT: the MBMD must be the stream's next bundle of the
// current epoch; the pages are decrypted and parsed, the MAC verified, then any parse
// error held from the pages is reported. The TD takes the state and OP_STATE becomes
// STATE_IMPORT. Once the MBMD is read, every failure ends the session (fatal bit).
import type { LeafContext, LeafHandler } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { setTdField, tdField } from "../md_fields.ts";
import type { TdState } from "../state.ts";
import { mbType, migLimitN } from "../migration/limits.ts";
import { decodeMbmd, macedBytes, mbmdHeader } from "../migration/mbmd.ts";
import { TD_MUTABLE } from "../migration/md_lists.ts";
import { mbmdBuffer, migsIndexAndCmd } from "../migration/operands.ts";
import { lockMigsc, migrationOf, type Migsc, type TdMigration } from "../migration/session.ts";
import { forwardLink, startBundle } from "../migration/streams.ts";
import { failImport } from "../migration/import_failure.ts";
import { applyMutableTdState } from "../migration/mutable_import.ts";
import { closeStateBundle, importStatePages } from "../migration/state_pages.ts";

export const tdhImportStateTd: LeafHandler = (ctx) => {
  // RCX carries the TDR in and extended error information out.
  const original = { rcx: ctx.regs.RCX, rdx: ctx.regs.RDX };
  const tdrPa = ctx.in("tdr_pa");
  ctx.out("ext_error_info_0", 0n);
  ctx.out("ext_error_info_1", 0n);
  const r = checkTdr(ctx, tdrPa, ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, undefined);
  if (bad) return bad;
  const cmd = migsIndexAndCmd(ctx);
  if (cmd.index !== 0 || cmd.reservedSet) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("migs_index_and_cmd"));
  }
  const m = migrationOf(td);
  const busy = lockMigsc(ctx, td, 1);
  if (busy) return busy;
  const link = forwardLink(m, 0);
  if (!link.initialized) return ctx.status("TDX_MIGRATION_STREAM_STATE_INCORRECT");
  const migsc = link.migsc;

  let pageIndex = 0;
  if (!cmd.resume) {
    const fail = start(ctx, td, m, migsc);
    if (fail) return fail;
  } else {
    const saved = migsc.interrupted;
    migsc.interrupted = undefined;
    if (!saved) return ctx.status("TDX_INVALID_RESUMPTION");
    if (saved.func !== ctx.regs.RAX || saved.pageListInfo !== ctx.in("page_list_info")) {
      return failImport(ctx, td, "TDX_INVALID_RESUMPTION");
    }
    pageIndex = saved.numProcessed;
  }
  const stopped = importStatePages(ctx, td, migsc, {
    minLastEntry: migLimitN(ctx.spec, "MIN_TD_STATE_IMPORT_PAGES") - 1,
    firstEntry: pageIndex,
    pageScope: () => ({ scope: "td", into: migsc.imported! }),
    saved: () => ({ sysMigrated: true }),
    original,
  });
  if (stopped) return stopped;
  return finish(ctx, td, migsc);
};

/** The new command: the MBMD must be this stream's next bundle of the current epoch. */
function start(
  ctx: LeafContext,
  td: TdState,
  m: TdMigration,
  migsc: Migsc,
): Completion | undefined {
  migsc.interrupted = undefined;
  const buf = mbmdBuffer(ctx);
  if (buf.fail) {
    return failImport(ctx, td, "TDX_OPERAND_INVALID", ctx.operandOf("mbmd_hpa_and_size"));
  }
  migsc.mbmd = ctx.cpu.memory.read(buf.pa, migLimitN(ctx.spec, "MBMD_SIZE"));
  const d = decodeMbmd(ctx.spec, "MBMD_TD_STATE", migsc.mbmd);
  const h = mbmdHeader(d);
  const zero = (b: unknown) => (b as Uint8Array).every((x) => x === 0);
  if (
    BigInt(h.mig_version as number) !== m.migWorkingVersion ||
    h.size !== migLimitN(ctx.spec, "MBMD_SIZE") || h.migs_index !== 0 ||
    h.mb_type !== mbType(ctx.spec, "MUTABLE_TD_STATE") || !zero(h.reserved_1) ||
    h.mb_counter !== migsc.expectedMbCounter ||
    BigInt(h.mig_epoch as number) !== tdField(ctx, td, "MIG_EPOCH") || !zero(d.reserved)
  ) {
    return failImport(ctx, td, "TDX_INVALID_MBMD");
  }
  startBundle(ctx, migsc, h.iv_counter as bigint, 0, "decrypt")
    .aad(macedBytes(ctx.spec, migsc.mbmd));
  // From here a replayed bundle is refused: every later error ends the session.
  migsc.expectedMbCounter++;
  migsc.stickyStatus = undefined;
  migsc.imported = new Map();
  return undefined;
}

function finish(ctx: LeafContext, td: TdState, migsc: Migsc): Completion {
  const closed = closeStateBundle(ctx, td, migsc, TD_MUTABLE);
  if (closed) return closed;
  applyMutableTdState(ctx, td, migsc.imported!);
  setTdField(ctx, td, "TOTAL_MB_COUNT", tdField(ctx, td, "TOTAL_MB_COUNT") + 1n);
  td.opState = "OP_STATE_STATE_IMPORT";
  return ctx.ok();
}
