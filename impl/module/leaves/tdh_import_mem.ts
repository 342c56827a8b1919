// TDH.IMPORT.MEM: imports, re-imports or cancels the 4 KiB pages a GPA list names from a
// forward stream. A new command checks the MBMD (fields, in-order bundle counter or the
// out-of-order epoch) and its MAC under the stream's decryption key; each entry is then
// its own GCM message under the next IV with the entry as AAD: a MIGRATE decrypts into a
// new page (or the migration buffer itself, in place) that becomes MAPPED or PENDING, a
// REMIGRATE overwrites a page imported in an earlier epoch, a CANCEL removes it (REMOVED,
// with the epoch). Errors either skip the entry, abort the session, or abort it only in
// the in-order phase (the module's classification). Interruptible between entries.
import type { LeafContext, LeafHandler } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import { checkAndLockHpa } from "../hpa_checks.ts";
import { lockKey } from "../locks.ts";
import { entryLockKey, lockEntryHost, NULL_PA, septGeometry, setEntry, walk } from "../sept.ts";
import { addChildren } from "../sept_steps.ts";
import { setTdField, tdField } from "../md_fields.ts";
import type { SeptEntry, TdState } from "../state.ts";
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
import { mbType, migLimit, migLimitN } from "../migration/limits.ts";
import { decodeMbmd, macOf, mbmdHeader } from "../migration/mbmd.ts";
import { StructCodec } from "../../spec/codec.ts";
import {
  macSlot,
  memInterruptOf,
  type PageListEntry,
  readPageListEntry,
  saveMemInterrupt,
  writePageListInvalid,
} from "../migration/mem_bundle.ts";
import { mbmdBuffer, sharedPageInvalid } from "../migration/operands.ts";
import { LEAF_STATES } from "../migration/page_states.ts";
import { initMigsc, type Migsc } from "../migration/session.ts";
import { forwardLink, startBundle } from "../migration/streams.ts";
import { openMemCall } from "../migration/mem_operands.ts";
import { abortImportSession, withFatalBit } from "../migration/import_failure.ts";

/** OP_STATEs of the in-order import phase (the module's import_in_order flag). */
const IMPORT_IN_ORDER = new Set(["OP_STATE_MEMORY_IMPORT", "OP_STATE_STATE_IMPORT"]);
const FIRST_TIME_IMPORT_ALLOWED = new Set(["FREE", "REMOVED"]);
const RE_IMPORT_ALLOWED = new Set(["MAPPED", "PENDING"]);

interface Bundle {
  td: TdState;
  migsc: Migsc;
  index: number;
  info: GpaListInfo;
  migBuffList: bigint;
  macLists: [bigint, bigint];
  newPageList?: bigint;
}

export const tdhImportMem: LeafHandler = (ctx) => {
  const info = readGpaListInfo(ctx);
  let entryNum = info.first;
  const done = (c: Completion) => {
    ctx.out("gpa_list_info", gpaListInfoAt(ctx, info, entryNum));
    return c;
  };
  const opened = openMemCall(ctx, info);
  if ("fail" in opened) return done(opened.fail);
  const { td, m, cmd, migBuffList, macLists } = opened.call;
  const newPageListPa = ctx.in("new_page_list_pa");
  const newPageList = newPageListPa === NULL_PA ? undefined : newPageListPa;
  if (newPageList !== undefined && sharedPageInvalid(ctx, newPageList)) {
    return done(ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("new_page_list_pa")));
  }
  const buf = mbmdBuffer(ctx);
  if (buf.fail) return done(buf.fail);

  const link = forwardLink(m, cmd.index);
  const migsc = link.migsc;
  const b: Bundle = { td, migsc, index: cmd.index, info, migBuffList, macLists, newPageList };
  if (!cmd.resume) {
    if (info.first !== 0) {
      return done(ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("gpa_list_info")));
    }
    if (!link.initialized) {
      link.initialized = true;
      initMigsc(migsc, m.migDecWorkingKey);
    }
    migsc.interrupted = undefined;
    const bad = checkNewMbmd(ctx, b, m.migWorkingVersion, buf.pa);
    if (bad) return done(bad);
  } else {
    if (!link.initialized) return done(ctx.status("TDX_MIGRATION_STREAM_STATE_INCORRECT"));
    const saved = migsc.interrupted;
    if (!saved) return done(ctx.status("TDX_INVALID_RESUMPTION"));
    migsc.interrupted = undefined;
    const x = memInterruptOf(saved);
    if (
      !x || saved.func !== ctx.regs.RAX || saved.pageListInfo !== ctx.in("gpa_list_info") ||
      x.migBuffList !== migBuffList || x.macLists[0] !== macLists[0] ||
      x.macLists[1] !== macLists[1] || x.newPageList !== newPageListPa ||
      x.epoch !== tdField(ctx, td, "MIG_EPOCH")
    ) {
      return done(ctx.status("TDX_INVALID_RESUMPTION"));
    }
  }

  let problems = 0n;
  for (; entryNum <= info.last; entryNum++) {
    const r = importEntry(ctx, b, entryNum);
    if ("stop" in r) return done(r.stop);
    if (r.problem) problems++;
    if (entryNum < info.last) {
      if (ctx.cpu.hostInterruptPending(ctx.lp.id)) {
        entryNum++;
        migsc.interrupted = saveMemInterrupt({
          func: ctx.regs.RAX,
          pageListInfo: gpaListInfoAt(ctx, info, entryNum),
          numProcessed: 0,
          fieldId: 0n,
          sysMigrated: false,
        }, {
          migBuffList,
          macLists,
          newPageList: newPageListPa,
          epoch: tdField(ctx, td, "MIG_EPOCH"),
        });
        return done(ctx.status("TDX_INTERRUPTED_RESUMABLE"));
      }
    } else {
      setTdField(ctx, td, "TOTAL_MB_COUNT", tdField(ctx, td, "TOTAL_MB_COUNT") + 1n);
    }
  }
  return done(ctx.status("TDX_SUCCESS", problems));
};

/** The new command's MBMD: this stream's next bundle of the epoch, its MAC verified. */
function checkNewMbmd(
  ctx: LeafContext,
  b: Bundle,
  version: bigint,
  pa: bigint,
): Completion | undefined {
  const { migsc, td } = b;
  const mbmd = ctx.cpu.memory.read(pa, migLimitN(ctx.spec, "MBMD_SIZE"));
  const d = decodeMbmd(ctx.spec, "MBMD_MEM", mbmd);
  const h = mbmdHeader(d);
  const zero = (x: unknown) =>
    x instanceof Uint8Array ? x.every((v) => v === 0) : BigInt(x as number) === 0n;
  const epoch = tdField(ctx, td, "MIG_EPOCH");
  if (
    BigInt(h.mig_version as number) !== version ||
    h.size !== migLimitN(ctx.spec, "MBMD_SIZE") || h.migs_index !== b.index ||
    h.mb_type !== mbType(ctx.spec, "MEM") || !zero(h.reserved_1) ||
    BigInt(h.mig_epoch as number) !== epoch ||
    BigInt(d.num_gpas as number) !== BigInt(b.info.last + 1) || !zero(d.reserved)
  ) {
    return ctx.status("TDX_INVALID_MBMD");
  }
  if (IMPORT_IN_ORDER.has(td.opState)) {
    if (h.mb_counter !== migsc.expectedMbCounter) return ctx.status("TDX_INVALID_MBMD");
  } else if (BigInt(h.mig_epoch as number) !== migLimit(ctx.spec, "MIG_EPOCH_OUT_OF_ORDER")) {
    return ctx.status("TDX_INVALID_MBMD");
  }
  migsc.ivCounter = h.iv_counter as bigint;
  // The MAC covers the MBMD with MIGS_INDEX and IV_COUNTER taken as 0.
  const codec = new StructCodec(ctx.spec);
  const maced = mbmd.slice(0, mbmd.length - macOf(ctx.spec, mbmd).length);
  maced.set(codec.encode("MBMD_HEADER", { ...h, migs_index: 0, iv_counter: 0n }), 0);
  const gcm = startBundle(ctx, migsc, migsc.ivCounter, b.index, "decrypt");
  gcm.aad(maced);
  if (!gcm.verify(macOf(ctx.spec, mbmd))) return ctx.status("TDX_INCORRECT_MBMD_MAC");
  // From here a replayed bundle is refused: later errors end the session.
  migsc.expectedMbCounter++;
  migsc.mbmd = mbmd;
  return undefined;
}

/** How an entry's failure ends (the module's GPA list error types). */
type ErrorType = "skip" | "abort" | "abort-in-order";

interface EntryError {
  type: ErrorType;
  /** GPA_LIST_ENTRY_STATUS name. */
  entryStatus: string;
  status?: string;
  operand?: string;
}

type EntryResult = { stop: Completion } | { problem: boolean };

function importEntry(ctx: LeafContext, b: Bundle, i: number): EntryResult {
  const { td, info } = b;
  const e: GpaListEntry = readEntry(ctx, info.pa, i);
  const buff = readPageListEntry(ctx, b.migBuffList, i);
  const newPage = b.newPageList !== undefined
    ? readPageListEntry(ctx, b.newPageList, i)
    : undefined;
  const pageMac = ctx.cpu.memory.read(macSlot(b.macLists, i), 16);
  b.migsc.ivCounter += 1n;
  const gcm = startBundle(ctx, b.migsc, b.migsc.ivCounter, b.index, "decrypt");
  gcm.aad(entryBytes(ctx, e));
  const g = septGeometry(ctx.spec, td);
  let gpa: bigint | undefined;
  let locked = false;
  try {
    const err = ((): EntryError | undefined => {
      if (e.operation === entryOp(ctx, "NOP")) {
        if (!gcm.verify(pageMac)) return macError();
        if (!entryWellFormed(e)) return invalidEntry();
        return { type: "skip", entryStatus: "SKIPPED" };
      }
      gpa = entryGpa(g, e);
      if (gpa === undefined) return invalidEntry();
      const w = walk(ctx.spec, td, g, gpa, 0);
      if (!w.reached) {
        return inOrderError("SEPT_WALK_FAILED", "TDX_EPT_WALK_FAILED", "GPA_LIST_ENTRY");
      }
      if (!lockEntryHost(ctx, td, gpa, 0)) {
        return inOrderError("SEPT_ENTRY_BUSY_HOST_PRIORITY", "TDX_OPERAND_BUSY", "GPA_LIST_ENTRY");
      }
      locked = true;
      const entry = w.entry;
      if (!LEAF_STATES["TDH.IMPORT.MEM"].has(entry.state)) {
        return inOrderError(
          "SEPT_ENTRY_STATE_INCORRECT",
          "TDX_EPT_ENTRY_STATE_INCORRECT",
          "GPA_LIST_ENTRY",
        );
      }
      if (!IMPORT_IN_ORDER.has(td.opState) && e.operation !== entryOp(ctx, "MIGRATE")) {
        return abort("OP_STATE_INCORRECT", "TDX_OP_STATE_INCORRECT");
      }
      const pending = e.pending === 1n;
      const cancel = e.operation === entryOp(ctx, "CANCEL");
      if (!cancel && !pending) {
        if (buff.invalid || sharedPageInvalid(ctx, buff.pa)) {
          return abort("MIG_BUFFER_NOT_AVAILABLE", "TDX_OPERAND_INVALID", "MIG_BUFF_LIST_ENTRY");
        }
      }
      if (e.operation === entryOp(ctx, "MIGRATE")) {
        return migrate(ctx, b, gpa, entry, e, buff, newPage, gcm, pageMac);
      }
      if (e.operation === entryOp(ctx, "REMIGRATE")) {
        return remigrate(ctx, b, gpa, entry, e, buff, gcm, pageMac);
      }
      return cancelImport(ctx, b, gpa, entry, gcm, pageMac);
    })();
    if (err === undefined) {
      if (b.newPageList !== undefined && newPage) {
        writePageListInvalid(ctx, b.newPageList, i, newPage);
      }
      writeEntry(ctx, info.pa, i, e);
      return { problem: false };
    }
    const failed = {
      ...e,
      operation: entryOp(ctx, "NOP"),
      status: entryStatus(ctx, err.entryStatus),
    };
    const inOrder = IMPORT_IN_ORDER.has(td.opState);
    if (err.type === "skip" || (err.type === "abort-in-order" && !inOrder)) {
      if (b.newPageList !== undefined && newPage) {
        writePageListInvalid(ctx, b.newPageList, i, { ...newPage, invalid: true });
      }
      writeEntry(ctx, info.pa, i, failed);
      return { problem: err.entryStatus !== "SKIPPED" };
    }
    writeEntry(ctx, info.pa, i, failed);
    if (b.newPageList !== undefined && newPage) {
      writePageListInvalid(ctx, b.newPageList, i, { ...newPage, invalid: true });
    }
    if (err.type === "abort-in-order") {
      td.opState = "OP_STATE_FAILED_IMPORT";
      return { stop: withFatalBit(ctx, ctx.status(err.status!, err.operand)) };
    }
    return { stop: abortImportSession(ctx, td, err.status!, err.operand) };
  } finally {
    if (locked) ctx.state.locks.release(entryLockKey(td, gpa!, 0), ctx.owner);
  }
}

function macError(): EntryError {
  return abort("INVALID_PAGE_MAC", "TDX_INVALID_PAGE_MAC", "GPA_LIST_ENTRY");
}

function invalidEntry(): EntryError {
  return abort("GPA_LIST_ENTRY_INVALID", "TDX_OPERAND_INVALID", "GPA_LIST_ENTRY");
}

function abort(entryStatus: string, status: string, operand?: string): EntryError {
  return { type: "abort", entryStatus, status, operand };
}

function inOrderError(entryStatus: string, status: string, operand?: string): EntryError {
  return { type: "abort-in-order", entryStatus, status, operand };
}

/** A first-time import into a new page, or in place into the migration buffer. */
function migrate(
  ctx: LeafContext,
  b: Bundle,
  gpa: bigint,
  entry: SeptEntry,
  e: GpaListEntry,
  buff: PageListEntry,
  newPage: PageListEntry | undefined,
  gcm: ReturnType<typeof startBundle>,
  pageMac: Uint8Array,
): EntryError | undefined {
  const { td } = b;
  const epoch = tdField(ctx, td, "MIG_EPOCH");
  if (!FIRST_TIME_IMPORT_ALLOWED.has(entry.state)) {
    return inOrderError(
      "SEPT_ENTRY_STATE_INCORRECT",
      "TDX_EPT_ENTRY_STATE_INCORRECT",
      "GPA_LIST_ENTRY",
    );
  }
  // A page removed in this epoch (CANCEL, or TDH.MEM.PAGE.REMOVE) may not come back.
  if (entry.state === "REMOVED" && entry.migEpoch !== undefined && entry.migEpoch >= epoch) {
    return abort(
      "DISALLOWED_IMPORT_OVER_REMOVED",
      "TDX_DISALLOWED_IMPORT_OVER_REMOVED",
      "GPA_LIST_ENTRY",
    );
  }
  const mem = ctx.cpu.memory;
  const pending = e.pending === 1n;
  let page: bigint;
  let source: Uint8Array | undefined;
  if (!newPage || newPage.invalid) {
    // In place: the migration buffer becomes the TD page.
    if (buff.invalid) {
      return abort("MIG_BUFFER_NOT_AVAILABLE", "TDX_OPERAND_INVALID", "MIG_BUFF_LIST_ENTRY");
    }
    if (!pending) source = mem.read(buff.pa, 4096);
    page = mem.withKeyId(buff.pa, 0);
  } else {
    page = newPage.pa;
    if (page % 4096n !== 0n || page >> BigInt(mem.maxPa) !== 0n || mem.split(page).keyId !== 0) {
      return abort("NEW_PAGE_NOT_AVAILABLE", "TDX_OPERAND_INVALID", "NEW_PAGE_LIST_ENTRY");
    }
    if (!pending) source = mem.read(buff.pa, 4096);
  }
  const t = checkAndLockHpa(ctx, page, "NEW_PAGE_LIST_ENTRY", {
    expectedType: "PT_NDA",
    lock: "exclusive",
  });
  if (t.fail) {
    return inOrderError("NEW_PAGE_NOT_AVAILABLE", t.fail.name, "NEW_PAGE_LIST_ENTRY");
  }
  if (source) mem.write(mem.withKeyId(page, td.hkid), gcm.update(source));
  if (!gcm.verify(pageMac)) return macError();
  addChildren(td, 1);
  ctx.state.pamt.set(page, {
    pageType: "PT_REG",
    owner: td.tdr,
    level: 0,
    bepoch: 0n,
    importEpoch: epoch,
  });
  setEntry(td, gpa, {
    ...entry,
    state: pending ? "PENDING" : "MAPPED",
    hpa: page,
    level: 0,
    leaf: true,
    migEpoch: undefined,
  });
  return undefined;
}

/** A re-import over a page imported in an earlier epoch. */
function remigrate(
  ctx: LeafContext,
  b: Bundle,
  gpa: bigint,
  entry: SeptEntry,
  e: GpaListEntry,
  buff: PageListEntry,
  gcm: ReturnType<typeof startBundle>,
  pageMac: Uint8Array,
): EntryError | undefined {
  const { td } = b;
  if (!RE_IMPORT_ALLOWED.has(entry.state)) {
    return abort("SEPT_ENTRY_STATE_INCORRECT", "TDX_EPT_ENTRY_STATE_INCORRECT", "GPA_LIST_ENTRY");
  }
  const epoch = tdField(ctx, td, "MIG_EPOCH");
  const page = entry.hpa;
  const pamt = ctx.state.pamt.get(page);
  if ((pamt.importEpoch ?? 0n) >= epoch) {
    return abort("MIGRATED_IN_CURRENT_EPOCH", "TDX_MIGRATED_IN_CURRENT_EPOCH", "GPA_LIST_ENTRY");
  }
  const pending = e.pending === 1n;
  if (pending && entry.state !== "PENDING") {
    return abort("SEPT_ENTRY_STATE_INCORRECT", "TDX_IMPORT_MISMATCH", "GPA_LIST_ENTRY");
  }
  const mem = ctx.cpu.memory;
  if (!pending) mem.write(mem.withKeyId(page, td.hkid), gcm.update(mem.read(buff.pa, 4096)));
  if (!gcm.verify(pageMac)) return macError();
  setEntry(td, gpa, { ...entry, state: pending ? "PENDING" : "MAPPED" });
  ctx.state.pamt.set(page, { ...pamt, importEpoch: epoch });
  return undefined;
}

/** Cancels an earlier import: the page goes back to the host, the entry becomes REMOVED. */
function cancelImport(
  ctx: LeafContext,
  b: Bundle,
  gpa: bigint,
  entry: SeptEntry,
  gcm: ReturnType<typeof startBundle>,
  pageMac: Uint8Array,
): EntryError | undefined {
  const { td } = b;
  if (!RE_IMPORT_ALLOWED.has(entry.state)) {
    return abort("SEPT_ENTRY_STATE_INCORRECT", "TDX_EPT_ENTRY_STATE_INCORRECT", "GPA_LIST_ENTRY");
  }
  if (!gcm.verify(pageMac)) return macError();
  const page = entry.hpa;
  const busy = ctx.lock(lockKey.page(page), "exclusive", "GPA_LIST_ENTRY");
  if (busy) return abort("TD_PAGE_BUSY_HOST_PRIORITY", "TDX_OPERAND_BUSY", "GPA_LIST_ENTRY");
  const epoch = tdField(ctx, td, "MIG_EPOCH");
  if ((ctx.state.pamt.get(page).importEpoch ?? 0n) >= epoch) {
    return abort("MIGRATED_IN_CURRENT_EPOCH", "TDX_MIGRATED_IN_CURRENT_EPOCH", "GPA_LIST_ENTRY");
  }
  setEntry(td, gpa, {
    state: "REMOVED",
    hpa: 0n,
    level: 0,
    leaf: false,
    attributes: 0n,
    migEpoch: epoch,
  });
  addChildren(td, -1);
  ctx.state.pamt.clear(page);
  return undefined;
}
