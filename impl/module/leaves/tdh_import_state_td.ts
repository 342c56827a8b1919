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
import { decodeMbmd, macedBytes, macOf, mbmdHeader } from "../migration/mbmd.ts";
import { missingRequiredField, parseImmutablePage, TD_MUTABLE } from "../migration/md_lists.ts";
import {
  mbmdBuffer,
  migsIndexAndCmd,
  pageListInfo,
  sharedPageInvalid,
} from "../migration/operands.ts";
import { lockMigsc, migrationOf, type Migsc, type TdMigration } from "../migration/session.ts";
import { forwardLink, pageListEntry, startBundle } from "../migration/streams.ts";
import { failImport } from "../migration/import_failure.ts";
import { applyMutableTdState } from "../migration/mutable_import.ts";

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
  const list = pageListInfo(ctx);
  const r9 = ctx.operandOf("page_list_info");
  if (
    list.lastEntry < migLimitN(ctx.spec, "MIN_TD_STATE_IMPORT_PAGES") - 1 || list.reservedSet ||
    sharedPageInvalid(ctx, list.pa)
  ) {
    return failImport(ctx, td, "TDX_OPERAND_INVALID", r9);
  }

  const mem = ctx.cpu.memory;
  do {
    const entry = pageListEntry(ctx, list.pa, pageIndex);
    if (sharedPageInvalid(ctx, entry)) return failImport(ctx, td, "TDX_OPERAND_INVALID", "PAGE");
    const page = migsc.gcm!.update(mem.read(entry, 4096));
    const err = parseImmutablePage(ctx.spec, "td", page, migsc.imported!);
    if (err && !migsc.stickyStatus) {
      migsc.stickyStatus = { name: err.status, detail: err.detail, ext: err.ext };
    }
    pageIndex++;
    if (pageIndex <= list.lastEntry && ctx.cpu.hostInterruptPending(ctx.lp.id)) {
      migsc.interrupted = {
        func: ctx.regs.RAX,
        pageListInfo: ctx.in("page_list_info"),
        numProcessed: pageIndex,
        fieldId: 0n,
        sysMigrated: true,
      };
      ctx.regs.RCX = original.rcx;
      ctx.regs.RDX = original.rdx;
      return ctx.status("TDX_INTERRUPTED_RESUMABLE");
    }
  } while (pageIndex <= list.lastEntry);
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
  if (!migsc.stickyStatus) {
    const missing = missingRequiredField(ctx.spec, migsc.imported!, TD_MUTABLE);
    if (missing) {
      migsc.stickyStatus = {
        name: "TDX_REQUIRED_METADATA_FIELD_MISSING",
        ext: [missing.baseId, 0n],
      };
    }
  }
  if (!migsc.gcm!.verify(macOf(ctx.spec, migsc.mbmd))) {
    return failImport(ctx, td, "TDX_INCORRECT_MBMD_MAC");
  }
  const sticky = migsc.stickyStatus;
  if (sticky) {
    ctx.out("ext_error_info_0", sticky.ext[0]);
    ctx.out("ext_error_info_1", sticky.ext[1]);
    return failImport(ctx, td, sticky.name, sticky.detail);
  }
  applyMutableTdState(ctx, td, migsc.imported!);
  setTdField(ctx, td, "TOTAL_MB_COUNT", tdField(ctx, td, "TOTAL_MB_COUNT") + 1n);
  td.opState = "OP_STATE_STATE_IMPORT";
  return ctx.ok();
}
