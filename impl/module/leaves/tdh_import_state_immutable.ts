// TDH.IMPORT.STATE.IMMUTABLE: starts an import session on forward stream 0 of a TD
// created for import (keys configured, TDCS added, TDH.MNG.INIT not called) and imports
// the source's immutable state: checks the MBMD, decrypts the SYS then TD metadata-list
// pages, verifies the bundle's MAC, and only then reports a parse error held from the
// pages; the TD then takes its configuration and OP_STATE becomes MEMORY_IMPORT. After
// the MBMD is read, every failure ends the session (FAILED_IMPORT, fatal bit).
import type { LeafContext, LeafHandler } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { setTdField } from "../md_fields.ts";
import type { TdState } from "../state.ts";
import { mbType, migLimitN } from "../migration/limits.ts";
import { latchSessionKeys } from "../migration/keys.ts";
import { decodeMbmd, macedBytes, mbmdHeader } from "../migration/mbmd.ts";
import { mbmdBuffer, migsIndexAndCmd } from "../migration/operands.ts";
import {
  initMigsc,
  lockMigsc,
  migrationOf,
  type Migsc,
  type TdMigration,
  uninitializeStreams,
} from "../migration/session.ts";
import { forwardLink, startBundle } from "../migration/streams.ts";
import { failImport } from "../migration/import_failure.ts";
import { closeStateBundle, importStatePages } from "../migration/state_pages.ts";
import { applyImmutableState } from "../migration/immutable_import.ts";

export const tdhImportStateImmutable: LeafHandler = (ctx) => {
  // RCX carries the TDR in and extended error information out.
  const original = { rcx: ctx.regs.RCX, rdx: ctx.regs.RDX };
  const tdrPa = ctx.in("tdr_pa");
  ctx.out("ext_error_info_0", 0n);
  ctx.out("ext_error_info_1", 0n);
  const misc = ctx.cpu.msrs.decode(
    "IA32_MISC_ENABLE",
    ctx.cpu.rdmsrNamed(ctx.lp.id, "IA32_MISC_ENABLE") ?? 0n,
  );
  if (misc.LIMIT_CPUID_MAXVAL === 1n) return ctx.status("TDX_LIMIT_CPUID_MAXVAL_SET");
  const r = checkTdr(ctx, tdrPa, ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, undefined);
  if (bad) return bad;
  const m = migrationOf(td);
  if (m.links.length < migLimitN(ctx.spec, "MIN_MIGS")) {
    return ctx.status("TDX_MIN_MIGS_NOT_CREATED");
  }
  const cmd = migsIndexAndCmd(ctx);
  if (cmd.index !== 0 || cmd.reservedSet) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("migs_index_and_cmd"));
  }
  const busy = lockMigsc(ctx, td, 1);
  if (busy) return busy;
  const link = forwardLink(m, 0);
  const migsc = link.migsc;

  const started = cmd.resume ? resume(ctx, td, link.initialized, migsc) : start(ctx, td, m, migsc);
  if ("fail" in started) return started.fail;

  const sysPages = Number(
    decodeMbmd(ctx.spec, "MBMD_IMMUTABLE_TD_STATE", migsc.mbmd).num_sys_md_pages,
  );
  // The global (SYS) lists come first; their values are checked, not kept.
  const stopped = importStatePages(ctx, td, migsc, {
    minLastEntry: migLimitN(ctx.spec, "MIN_TD_IMMUTABLE_STATE_IMPORT_PAGES") + sysPages - 1,
    firstEntry: started.pageIndex,
    pageScope: (i) =>
      i < sysPages ? { scope: "global", into: new Map() } : { scope: "td", into: migsc.imported! },
    saved: (n) => ({ sysMigrated: n >= sysPages }),
    original,
  });
  if (stopped) return stopped;
  const closed = closeStateBundle(ctx, td, migsc, undefined);
  if (closed) return closed;
  if (!applyImmutableState(ctx, td, migsc.imported!)) {
    return failImport(ctx, td, "TDX_OPERAND_INVALID", "RDX");
  }
  setTdField(ctx, td, "TOTAL_MB_COUNT", 1n);
  td.opState = "OP_STATE_MEMORY_IMPORT";
  return ctx.ok();
};

function start(
  ctx: LeafContext,
  td: TdState,
  m: TdMigration,
  migsc: Migsc,
): { pageIndex: number } | { fail: Completion } {
  const keys = latchSessionKeys(ctx, td, m);
  if (keys) return { fail: ctx.status(keys) };
  uninitializeStreams(m);
  setTdField(ctx, td, "MIG_EPOCH", 0n);
  setTdField(ctx, td, "TOTAL_MB_COUNT", 0n);
  initMigsc(migsc, m.migDecWorkingKey);
  forwardLink(m, 0).initialized = true;

  const buf = mbmdBuffer(ctx);
  if (buf.fail) {
    return { fail: failImport(ctx, td, "TDX_OPERAND_INVALID", ctx.operandOf("mbmd_hpa_and_size")) };
  }
  const size = migLimitN(ctx.spec, "MBMD_SIZE");
  migsc.mbmd = ctx.cpu.memory.read(buf.pa, size);
  const d = decodeMbmd(ctx.spec, "MBMD_IMMUTABLE_TD_STATE", migsc.mbmd);
  const h = mbmdHeader(d);
  const zero = (b: unknown) => (b as Uint8Array).every((x) => x === 0);
  if (
    BigInt(h.mig_version as number) !== m.migWorkingVersion || h.size !== size ||
    h.migs_index !== 0 || h.mb_type !== mbType(ctx.spec, "IMMUTABLE_TD_STATE") ||
    !zero(h.reserved_1) || h.mb_counter !== 0 || h.mig_epoch !== 0 ||
    !zero(d.reserved_0) || !zero(d.reserved_1) || d.num_sys_md_pages === 0
  ) {
    return { fail: failImport(ctx, td, "TDX_INVALID_MBMD") };
  }
  if ((d.num_f_migs as number) > m.links.length - 1) {
    return { fail: failImport(ctx, td, "TDX_NUM_MIGS_HIGHER_THAN_CREATED") };
  }
  startBundle(ctx, migsc, h.iv_counter as bigint, 0, "decrypt")
    .aad(macedBytes(ctx.spec, migsc.mbmd));
  // From here a replayed bundle is refused: every later error ends the session.
  migsc.expectedMbCounter = 1;
  migsc.stickyStatus = undefined;
  migsc.imported = new Map();
  return { pageIndex: 0 };
}

function resume(
  ctx: LeafContext,
  td: TdState,
  initialized: boolean,
  migsc: Migsc,
): { pageIndex: number } | { fail: Completion } {
  if (!initialized) return { fail: ctx.status("TDX_MIGRATION_STREAM_STATE_INCORRECT") };
  const saved = migsc.interrupted;
  migsc.interrupted = undefined;
  if (!saved) return { fail: ctx.status("TDX_INVALID_RESUMPTION") };
  if (saved.func !== ctx.regs.RAX || saved.pageListInfo !== ctx.in("page_list_info")) {
    return { fail: failImport(ctx, td, "TDX_INVALID_RESUMPTION") };
  }
  return { pageIndex: saved.numProcessed };
}
