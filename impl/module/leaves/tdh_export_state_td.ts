// TDH.EXPORT.STATE.TD: exports the paused TD's mutable TD-scope state on forward stream 0
// as one bundle: encrypted metadata-list pages, then (when the list is complete) the
// MBMD with the bundle's MAC. Interruptible between pages.
import type { LeafContext, LeafHandler } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { setTdField, tdField } from "../md_fields.ts";
import type { TdState } from "../state.ts";
import { mbType, migLimitN } from "../migration/limits.ts";
import { encodeMbmd, macedBytes, withIvCounter, withMac } from "../migration/mbmd.ts";
import { dumpPage, TD_MUTABLE } from "../migration/md_lists.ts";
import {
  mbmdBuffer,
  migsIndexAndCmd,
  pageListInfo,
  sharedPageInvalid,
} from "../migration/operands.ts";
import { lockMigsc, migrationOf, type Migsc } from "../migration/session.ts";
import { forwardLink, pageListEntry, startBundle } from "../migration/streams.ts";

export const tdhExportStateTd: LeafHandler = (ctx) => {
  ctx.out("num_pages", 0n);
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "shared");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, "exclusive");
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
  const list = pageListInfo(ctx);
  const r9 = ctx.operandOf("page_list_info");

  let pageIndex = 0;
  let unit = 0;
  if (!cmd.resume) {
    if (list.lastEntry < migLimitN(ctx.spec, "MIN_TD_STATE_EXPORT_PAGES") - 1 || list.reservedSet) {
      return ctx.status("TDX_OPERAND_INVALID", r9);
    }
    startStateBundle(ctx, td, migsc, m.migWorkingVersion);
  } else {
    const saved = migsc.interrupted;
    migsc.interrupted = undefined;
    if (!saved) return ctx.status("TDX_INVALID_RESUMPTION");
    if (saved.func !== ctx.regs.RAX || saved.pageListInfo !== ctx.in("page_list_info")) {
      return ctx.status("TDX_INVALID_RESUMPTION");
    }
    pageIndex = saved.numProcessed;
    unit = Number(saved.fieldId);
  }
  if (sharedPageInvalid(ctx, list.pa)) return ctx.status("TDX_OPERAND_INVALID", r9);
  return exportPages(ctx, td, migsc, pageIndex, unit);
};

/** The MUTABLE_TD_STATE bundle's MBMD and GCM start, with the stream's next IV. */
function startStateBundle(ctx: LeafContext, td: TdState, migsc: Migsc, version: bigint): void {
  migsc.interrupted = undefined;
  migsc.ivCounter += 1n;
  migsc.mbmd = encodeMbmd(ctx.spec, "MBMD_TD_STATE", {
    mig_version: Number(version),
    migs_index: 0,
    mb_type: mbType(ctx.spec, "MUTABLE_TD_STATE"),
    mb_counter: migsc.nextMbCounter,
    mig_epoch: Number(tdField(ctx, td, "MIG_EPOCH")),
    iv_counter: 0n,
  });
  startBundle(ctx, migsc, migsc.ivCounter, 0, "encrypt").aad(macedBytes(ctx.spec, migsc.mbmd));
  migsc.mbmd = withIvCounter(ctx.spec, migsc.mbmd, migsc.ivCounter);
}

function exportPages(
  ctx: LeafContext,
  td: TdState,
  migsc: Migsc,
  pageIndex: number,
  unit: number,
): Completion {
  const list = pageListInfo(ctx);
  const mdCtx = { spec: ctx.spec, cpu: ctx.cpu, state: ctx.state, td };
  const mem = ctx.cpu.memory;
  for (;;) {
    const entry = pageListEntry(ctx, list.pa, pageIndex);
    if (sharedPageInvalid(ctx, entry)) {
      return ctx.status("TDX_OPERAND_INVALID", "MIG_BUFF_LIST_ENTRY");
    }
    const dump = dumpPage(mdCtx, TD_MUTABLE, unit, migrationOf(td).listCapacity);
    mem.write(entry, migsc.gcm!.update(dump.page));
    pageIndex++;
    if (dump.next === undefined) {
      const buf = mbmdBuffer(ctx);
      if (buf.fail) return buf.fail;
      const out = withMac(ctx.spec, migsc.mbmd, migsc.gcm!.mac());
      mem.write(buf.pa, out);
      migsc.mbmd = out;
      setTdField(ctx, td, "TOTAL_MB_COUNT", tdField(ctx, td, "TOTAL_MB_COUNT") + 1n);
      migsc.nextMbCounter++;
      migsc.interrupted = undefined;
      ctx.out("num_pages", BigInt(pageIndex));
      return ctx.ok();
    }
    if (pageIndex > list.lastEntry) {
      return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("page_list_info"));
    }
    if (ctx.cpu.hostInterruptPending(ctx.lp.id)) {
      migsc.interrupted = {
        func: ctx.regs.RAX,
        pageListInfo: ctx.in("page_list_info"),
        numProcessed: pageIndex,
        fieldId: BigInt(dump.next),
        sysMigrated: true,
      };
      ctx.out("num_pages", BigInt(pageIndex));
      return ctx.status("TDX_INTERRUPTED_RESUMABLE");
    }
    unit = dump.next;
  }
}
