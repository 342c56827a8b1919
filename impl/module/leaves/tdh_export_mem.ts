// TDH.EXPORT.MEM: exports, re-exports or cancels the 4 KiB pages a GPA list names on a
// forward stream. A new command writes the bundle's MBMD (MAC'ed at once, under the
// stream's next IV); each entry then gets its own IV: its GPA list entry is the AAD, an
// exported page is encrypted into its migration buffer, and the tag goes to the MAC
// list. Secure EPT entries move to *EXPORTED_BLOCKEDW (cancel: back to MAPPED/PENDING),
// with TDCS.MIG_COUNT and DIRTY_COUNT following. A failing entry gets operation NOP, a
// status, no buffer, and counts in the status detail; a malformed entry or buffer stops
// the call. Interruptible between entries (resume with the returned operands).
import type { LeafContext, LeafHandler } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import { entryLockKey, lockEntryHost, septGeometry, setEntry, walk } from "../sept.ts";
import { traits } from "../sept_states.ts";
import { setTdField, tdField } from "../md_fields.ts";
import type { TdState } from "../state.ts";
import { isTlbTracked } from "../tlb_tracking.ts";
import {
  entryBytes,
  entryGpa,
  entryOp,
  entryStatus,
  entryWellFormed,
  type GpaListEntry,
  type GpaListInfo,
  gpaListInfoAt,
  readEntry,
  readGpaListInfo,
  writeEntry,
} from "../migration/gpa_list.ts";
import { mbType } from "../migration/limits.ts";
import { StructCodec } from "../../spec/codec.ts";
import { decodeMbmd, encodeMbmd, macedBytes, withIvCounter, withMac } from "../migration/mbmd.ts";
import {
  MAC_LIST_ENTRIES,
  macSlot,
  memInterruptOf,
  readPageListEntry,
  saveMemInterrupt,
  writePageListInvalid,
} from "../migration/mem_bundle.ts";
import { mbmdBuffer, sharedPageInvalid } from "../migration/operands.ts";
import {
  ANY_EXPORTED,
  ANY_EXPORTED_AND_DIRTY,
  EXPORT_CANCEL_ALLOWED,
  FIRST_TIME_EXPORT_ALLOWED,
  isPendingState,
  LEAF_STATES,
  LIVE_EXPORT_ALLOWED,
  PAUSED_EXPORT_ALLOWED,
} from "../migration/page_states.ts";
import { initMigsc, type Migsc, type TdMigration } from "../migration/session.ts";
import { forwardLink, startBundle } from "../migration/streams.ts";
import { openMemCall } from "../migration/mem_operands.ts";

/** OP_STATEs of the in-order export phase (the module's export_in_order flag). */
const EXPORT_IN_ORDER = new Set(["OP_STATE_LIVE_EXPORT", "OP_STATE_PAUSED_EXPORT"]);

interface Bundle {
  td: TdState;
  m: TdMigration;
  migsc: Migsc;
  index: number;
  info: GpaListInfo;
  migBuffList: bigint;
  macLists: [bigint, bigint];
  numProcessed: number;
}

export const tdhExportMem: LeafHandler = (ctx) => {
  const info = readGpaListInfo(ctx);
  let entryNum = info.first;
  const done = (c: Completion) => {
    ctx.out("gpa_list_info", gpaListInfoAt(ctx, info, entryNum));
    return c;
  };
  const opened = openMemCall(ctx, info);
  if ("fail" in opened) return done(opened.fail);
  const { td, m, cmd, migBuffList, macLists } = opened.call;
  const mac0 = info.first < MAC_LIST_ENTRIES;
  const mac1 = info.last >= MAC_LIST_ENTRIES;
  const buf = mbmdBuffer(ctx);
  if (buf.fail) return done(buf.fail);

  const link = forwardLink(m, cmd.index);
  const migsc = link.migsc;
  const b: Bundle = {
    td,
    m,
    migsc,
    index: cmd.index,
    info,
    migBuffList,
    macLists,
    numProcessed: 0,
  };
  if (!cmd.resume) {
    if (info.first !== 0) {
      return done(ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("gpa_list_info")));
    }
    if (!link.initialized) {
      link.initialized = true;
      initMigsc(migsc, m.migEncWorkingKey);
    }
    migsc.interrupted = undefined;
    // The GPA list and each MAC list page count as migration buffers.
    b.numProcessed = 1 + (mac0 ? 1 : 0) + (mac1 ? 1 : 0);
    writeMbmd(ctx, b, buf.pa);
  } else {
    if (!link.initialized) return done(ctx.status("TDX_MIGRATION_STREAM_STATE_INCORRECT"));
    const saved = migsc.interrupted;
    if (!saved) return done(ctx.status("TDX_INVALID_RESUMPTION"));
    migsc.interrupted = undefined;
    const x = memInterruptOf(saved);
    if (
      !x || saved.func !== ctx.regs.RAX || saved.pageListInfo !== ctx.in("gpa_list_info") ||
      x.migBuffList !== migBuffList || x.macLists[0] !== macLists[0] ||
      x.macLists[1] !== macLists[1] || x.epoch !== tdField(ctx, td, "MIG_EPOCH")
    ) {
      return done(ctx.status("TDX_INVALID_RESUMPTION"));
    }
    b.numProcessed = saved.numProcessed;
  }

  let problems = 0n;
  for (; entryNum <= info.last; entryNum++) {
    const r = exportEntry(ctx, b, entryNum);
    if (r === "invalid") return done(ctx.status("TDX_OPERAND_INVALID", "GPA_LIST_ENTRY"));
    if (r === "buffer") return done(ctx.status("TDX_OPERAND_INVALID", "MIG_BUFF_LIST_ENTRY"));
    if (r === "problem") problems++;
    if (entryNum < info.last) {
      if (ctx.cpu.hostInterruptPending(ctx.lp.id)) {
        entryNum++;
        migsc.interrupted = saveMemInterrupt({
          func: ctx.regs.RAX,
          pageListInfo: gpaListInfoAt(ctx, info, entryNum),
          numProcessed: b.numProcessed,
          fieldId: 0n,
          sysMigrated: false,
        }, { migBuffList, macLists, epoch: tdField(ctx, td, "MIG_EPOCH") });
        return done(ctx.status("TDX_INTERRUPTED_RESUMABLE"));
      }
    } else {
      setTdField(ctx, td, "TOTAL_MB_COUNT", tdField(ctx, td, "TOTAL_MB_COUNT") + 1n);
      migsc.nextMbCounter++;
      ctx.out("num_buffers", BigInt(b.numProcessed));
    }
  }
  return done(ctx.status("TDX_SUCCESS", problems));
};

/** The bundle's MBMD, MAC'ed with migs_index and IV_COUNTER 0 and written at once. */
function writeMbmd(ctx: LeafContext, b: Bundle, pa: bigint): void {
  const { migsc, td, m } = b;
  migsc.ivCounter += 1n;
  const mbmd = encodeMbmd(ctx.spec, "MBMD_MEM", {
    mig_version: Number(m.migWorkingVersion),
    migs_index: 0,
    mb_type: mbType(ctx.spec, "MEM"),
    mb_counter: migsc.nextMbCounter,
    mig_epoch: Number(tdField(ctx, td, "MIG_EPOCH")),
    iv_counter: 0n,
  }, { num_gpas: b.info.last + 1 });
  const gcm = startBundle(ctx, migsc, migsc.ivCounter, b.index, "encrypt");
  gcm.aad(macedBytes(ctx.spec, mbmd));
  const sealed = withIvCounter(ctx.spec, withMac(ctx.spec, mbmd, gcm.mac()), migsc.ivCounter);
  // MIGS_INDEX is written after the MAC, like IV_COUNTER.
  const out = sealed.slice();
  const codec = new StructCodec(ctx.spec);
  const header = decodeMbmd(ctx.spec, "MBMD_HEADER", sealed);
  out.set(codec.encode("MBMD_HEADER", { ...header, migs_index: b.index }), 0);
  migsc.mbmd = out;
  ctx.cpu.memory.write(pa, out);
}

type EntryResult = "ok" | "skipped" | "problem" | "invalid" | "buffer";

function exportEntry(ctx: LeafContext, b: Bundle, i: number): EntryResult {
  const { td, info } = b;
  let e: GpaListEntry = readEntry(ctx, info.pa, i);
  const buff = readPageListEntry(ctx, b.migBuffList, i);
  const nop = entryOp(ctx, "NOP");
  const stop = () => {
    writeEntry(ctx, info.pa, i, {
      ...e,
      operation: nop,
      status: entryStatus(ctx, "GPA_LIST_ENTRY_INVALID"),
    });
    return "invalid" as const;
  };
  const g = septGeometry(ctx.spec, td);
  let gpa: bigint | undefined;
  let locked = false;
  let err: string | undefined;
  let pageHpa = 0n;
  try {
    check: {
      if (e.operation === nop) {
        if (!entryWellFormed(e)) return stop();
        err = "SKIPPED";
        break check;
      }
      gpa = entryGpa(g, e);
      if (gpa === undefined) return stop();
      const w = walk(ctx.spec, td, g, gpa, 0);
      if (!w.reached) {
        err = "SEPT_WALK_FAILED";
        break check;
      }
      if (!lockEntryHost(ctx, td, gpa, 0)) {
        err = "SEPT_ENTRY_BUSY_HOST_PRIORITY";
        break check;
      }
      locked = true;
      const state = w.entry.state;
      if (!LEAF_STATES["TDH.EXPORT.MEM"].has(state)) {
        err = "SEPT_ENTRY_STATE_INCORRECT";
        break check;
      }
      const byOrder = EXPORT_IN_ORDER.has(td.opState)
        ? inOrder(ctx, td, b.m, e, state)
        : outOfOrder(ctx, e, state);
      if ("status" in byOrder) {
        err = byOrder.status;
        break check;
      }
      e = { ...e, operation: byOrder.operation };
      const pending = isPendingState(state);
      e = { ...e, pending: pending ? 1n : 0n, l2_map: 0n };
      const op = operate(ctx, e, state, pending, buff);
      if ("status" in op) {
        err = op.status;
        break check;
      }
      setEntry(td, gpa, { ...w.entry, state: op.state });
      b.m.migCount += op.migCount;
      b.m.dirtyCount += op.dirtyCount;
      pageHpa = w.entry.hpa;
    }
    if (err !== undefined) {
      e = { ...e, operation: nop, status: entryStatus(ctx, err) };
      buff.invalid = true;
    }
    // Each entry is its own GCM message under the stream's next IV.
    b.migsc.ivCounter += 1n;
    const gcm = startBundle(ctx, b.migsc, b.migsc.ivCounter, b.index, "encrypt");
    gcm.aad(entryBytes(ctx, e));
    if (!buff.invalid) {
      if (sharedPageInvalid(ctx, buff.pa)) return "buffer";
      const mem = ctx.cpu.memory;
      const page = mem.read(mem.withKeyId(pageHpa, td.hkid), 4096);
      mem.write(buff.pa, gcm.update(page));
      b.numProcessed++;
    }
    ctx.cpu.memory.write(macSlot(b.macLists, i), gcm.mac());
    writePageListInvalid(ctx, b.migBuffList, i, buff);
    writeEntry(ctx, info.pa, i, e);
    if (err === undefined) return "ok";
    return err === "SKIPPED" ? "skipped" : "problem";
  } finally {
    if (locked) ctx.state.locks.release(entryLockKey(td, gpa!, 0), ctx.owner);
  }
}

type ByOrder = { operation: bigint } | { status: string };

/** The in-order phase: MIGRATE, REMIGRATE or CANCEL by the page's export state. */
function inOrder(
  ctx: LeafContext,
  td: TdState,
  m: TdMigration,
  e: GpaListEntry,
  state: string,
): ByOrder {
  if (e.operation === entryOp(ctx, "CANCEL")) {
    if (!EXPORT_CANCEL_ALLOWED.has(state)) return { status: "SEPT_ENTRY_STATE_INCORRECT" };
    return { operation: e.operation };
  }
  let operation: bigint;
  if (FIRST_TIME_EXPORT_ALLOWED.has(state)) operation = entryOp(ctx, "MIGRATE");
  else if (ANY_EXPORTED_AND_DIRTY.has(state)) operation = entryOp(ctx, "REMIGRATE");
  else return { status: "SEPT_ENTRY_STATE_INCORRECT" };
  if (td.opState === "OP_STATE_LIVE_EXPORT") {
    // While the TD runs, only write-blocked pages, blocked before the last TLB track.
    if (!LIVE_EXPORT_ALLOWED.has(state)) return { status: "SEPT_ENTRY_STATE_INCORRECT" };
    if (traits(state).tlbTracking && !isTlbTracked(td, m.bwEpoch ?? 0n)) {
      return { status: "TLB_TRACKING_NOT_DONE" };
    }
  }
  return { operation };
}

/** The out-of-order phase: every entry is a first-time MIGRATE; no CANCEL. */
function outOfOrder(ctx: LeafContext, e: GpaListEntry, state: string): ByOrder {
  if (e.operation === entryOp(ctx, "CANCEL")) return { status: "OP_STATE_INCORRECT" };
  if (!PAUSED_EXPORT_ALLOWED.has(state)) return { status: "SEPT_ENTRY_STATE_INCORRECT" };
  return { operation: entryOp(ctx, "MIGRATE") };
}

type Operated = { state: string; migCount: bigint; dirtyCount: bigint } | { status: string };

/** The entry's new Secure EPT state and the counters' changes. */
function operate(
  ctx: LeafContext,
  e: GpaListEntry,
  state: string,
  pending: boolean,
  buff: { invalid: boolean },
): Operated {
  const dirty = ANY_EXPORTED_AND_DIRTY.has(state) ? -1n : 0n;
  if (e.operation === entryOp(ctx, "CANCEL")) {
    buff.invalid = true;
    return { state: pending ? "PENDING" : "MAPPED", migCount: -1n, dirtyCount: dirty };
  }
  const migCount = ANY_EXPORTED.has(state) ? 0n : 1n;
  if (pending) {
    // A pending page has no content to send.
    buff.invalid = true;
    return { state: "PENDING_EXPORTED_BLOCKEDW", migCount, dirtyCount: dirty };
  }
  if (buff.invalid) return { status: "MIG_BUFFER_NOT_AVAILABLE" };
  return { state: "EXPORTED_BLOCKEDW", migCount, dirtyCount: dirty };
}
