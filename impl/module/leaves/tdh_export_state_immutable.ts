// TDH.EXPORT.STATE.IMMUTABLE: starts an export session on forward stream 0 and exports
// the TD's immutable state as encrypted metadata-list pages: first the global (SYS)
// list, then the TD list. The MBMD (AAD) and the pages form one AES-256-GCM bundle
// under the session's encryption key; its tag is the MBMD's MAC. Interruptible between
// pages; when done the MBMD is written and OP_STATE becomes LIVE_EXPORT.
import type { LeafContext, LeafHandler } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { setTdField, tdField } from "../md_fields.ts";
import type { TdState } from "../state.ts";
import { mbType, migLimit, migLimitN } from "../migration/limits.ts";
import { latchSessionKeys } from "../migration/keys.ts";
import { encodeMbmd, macedBytes, withIvCounter, withMac } from "../migration/mbmd.ts";
import { dumpImmutablePage } from "../migration/md_lists.ts";
import {
  mbmdBuffer,
  migsIndexAndCmd,
  pageListInfo,
  sharedPageInvalid,
} from "../migration/operands.ts";
import {
  initMigsc,
  lockMig,
  lockMigsc,
  migrationOf,
  type Migsc,
  type TdMigration,
  uninitializeStreams,
} from "../migration/session.ts";
import { forwardLink, isMigratable, pageListEntry, startBundle } from "../migration/streams.ts";

export const tdhExportStateImmutable: LeafHandler = (ctx) => {
  ctx.out("num_pages", 0n);
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "shared");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, "exclusive");
  if (bad) return bad;
  const busy = lockMig(ctx, td);
  if (busy) return busy;
  const m = migrationOf(td);
  if (!isMigratable(ctx, td)) return ctx.status("TDX_TD_NOT_MIGRATABLE");
  if (m.migCount !== 0n) return ctx.status("TDX_PREVIOUS_EXPORT_CLEANUP_INCOMPLETE");
  if (m.links.length < migLimitN(ctx.spec, "MIN_MIGS")) {
    return ctx.status("TDX_MIN_MIGS_NOT_CREATED");
  }
  const mbmd = mbmdBuffer(ctx);
  if (mbmd.fail) return mbmd.fail;
  const cmd = migsIndexAndCmd(ctx);
  if (cmd.index !== 0 || cmd.reservedSet) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("migs_index_and_cmd"));
  }
  const migscBusy = lockMigsc(ctx, td, 1);
  if (migscBusy) return migscBusy;
  const link = forwardLink(m, 0);
  const migsc = link.migsc;

  const started = cmd.resume ? resume(ctx, link.initialized, migsc) : start(ctx, td, m, migsc);
  if ("fail" in started) return started.fail;
  return exportPages(ctx, td, migsc, mbmd.pa, started);
};

interface Position {
  pageIndex: number;
  sysDone: boolean;
  unit: number;
}

function start(
  ctx: LeafContext,
  td: TdState,
  m: TdMigration,
  migsc: Migsc,
): Position | { fail: Completion } {
  const list = pageListInfo(ctx);
  const r9 = ctx.operandOf("page_list_info");
  if (
    list.lastEntry < migLimitN(ctx.spec, "MIN_TD_IMMUTABLE_STATE_EXPORT_PAGES") - 1 ||
    list.reservedSet || sharedPageInvalid(ctx, list.pa)
  ) {
    return { fail: ctx.status("TDX_OPERAND_INVALID", r9) };
  }
  const keys = latchSessionKeys(ctx, td, m);
  if (keys) return { fail: ctx.status(keys) };
  setTdField(ctx, td, "MIG_EPOCH", 0n);
  setTdField(ctx, td, "TOTAL_MB_COUNT", 0n);
  m.dirtyCount = 0n;
  uninitializeStreams(m);
  initMigsc(migsc, m.migEncWorkingKey);
  forwardLink(m, 0).initialized = true;
  // A new IV even when an earlier session on this stream was aborted.
  migsc.ivCounter += 1n;
  migsc.mbmd = encodeMbmd(ctx.spec, "MBMD_IMMUTABLE_TD_STATE", {
    mig_version: Number(m.migWorkingVersion),
    migs_index: 0,
    mb_type: mbType(ctx.spec, "IMMUTABLE_TD_STATE"),
    mb_counter: migsc.nextMbCounter,
    mig_epoch: 0,
    iv_counter: 0n,
  }, {
    num_f_migs: m.links.length - 1,
    num_sys_md_pages: migLimitN(ctx.spec, "NUM_SYS_STATE_EXPORT_PAGES"),
  });
  startBundle(ctx, migsc, migsc.ivCounter, 0, "encrypt").aad(macedBytes(ctx.spec, migsc.mbmd));
  migsc.mbmd = withIvCounter(ctx.spec, migsc.mbmd, migsc.ivCounter);
  // Every export session counts, aborted ones too.
  const count = tdField(ctx, td, "EXPORT_COUNT");
  if (count >= migLimit(ctx.spec, "MAX_EXPORT_COUNT")) {
    return { fail: ctx.status("TDX_MAX_EXPORTS_EXCEEDED") };
  }
  setTdField(ctx, td, "EXPORT_COUNT", count + 1n);
  return { pageIndex: 0, sysDone: false, unit: 0 };
}

function resume(
  ctx: LeafContext,
  initialized: boolean,
  migsc: Migsc,
): Position | { fail: Completion } {
  if (!initialized) return { fail: ctx.status("TDX_MIGRATION_STREAM_STATE_INCORRECT") };
  const saved = migsc.interrupted;
  migsc.interrupted = undefined;
  if (!saved) return { fail: ctx.status("TDX_INVALID_RESUMPTION") };
  if (saved.func !== ctx.regs.RAX || saved.pageListInfo !== ctx.in("page_list_info")) {
    return { fail: ctx.status("TDX_INVALID_RESUMPTION") };
  }
  return { pageIndex: saved.numProcessed, sysDone: saved.sysMigrated, unit: Number(saved.fieldId) };
}

function exportPages(
  ctx: LeafContext,
  td: TdState,
  migsc: Migsc,
  mbmdPa: bigint,
  pos: Position,
): Completion {
  const list = pageListInfo(ctx);
  const mdCtx = { spec: ctx.spec, cpu: ctx.cpu, state: ctx.state, td };
  const mem = ctx.cpu.memory;
  for (;;) {
    const entry = pageListEntry(ctx, list.pa, pos.pageIndex);
    if (sharedPageInvalid(ctx, entry)) {
      return ctx.status("TDX_OPERAND_INVALID", "MIG_BUFF_LIST_ENTRY");
    }
    const dump = dumpImmutablePage(mdCtx, pos.sysDone ? "td" : "global", pos.unit);
    mem.write(entry, migsc.gcm!.update(dump.page));
    pos.pageIndex++;
    if (dump.next === undefined && pos.sysDone) {
      const out = withMac(ctx.spec, migsc.mbmd, migsc.gcm!.mac());
      mem.write(mbmdPa, out);
      migsc.mbmd = out;
      setTdField(ctx, td, "TOTAL_MB_COUNT", 1n);
      migsc.nextMbCounter = 1;
      migsc.interrupted = undefined;
      td.opState = "OP_STATE_LIVE_EXPORT";
      ctx.out("num_pages", BigInt(pos.pageIndex));
      return ctx.ok();
    }
    if (pos.pageIndex > list.lastEntry) {
      return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("page_list_info"));
    }
    if (dump.next === undefined) {
      pos.sysDone = true;
      pos.unit = 0;
    } else {
      pos.unit = dump.next;
    }
    if (ctx.cpu.hostInterruptPending(ctx.lp.id)) {
      migsc.interrupted = {
        func: ctx.regs.RAX,
        pageListInfo: ctx.in("page_list_info"),
        numProcessed: pos.pageIndex,
        fieldId: BigInt(pos.unit),
        sysMigrated: pos.sysDone,
      };
      ctx.out("num_pages", BigInt(pos.pageIndex));
      return ctx.status("TDX_INTERRUPTED_RESUMABLE");
    }
  }
}
