// TDH.EXPORT.BLOCKW: write-blocks the 4 KiB pages a GPA list names (the in-order phase
// of an export): each MIGRATE / REMIGRATE entry's Secure EPT leaf goes to its *BLOCKEDW
// state; NOP and CANCEL entries are skipped. A failing entry gets operation NOP and a
// status in the list; the call answers TDX_SUCCESS with the number of failed entries in
// the detail. An invalid entry stops the call. Interruptible between entries; RCX
// returns the list info with FIRST_ENTRY where to resume.
import type { LeafContext, LeafHandler } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import { decodeBits, encodeBits } from "../../spec/bits.ts";
import { lockKey } from "../locks.ts";
import {
  checkPrivateGpa,
  entryLockKey,
  lockEntryHost,
  septGeometry,
  setEntry,
  walk,
} from "../sept.ts";
import { openTd } from "../sept_steps.ts";
import { sharedPageInvalid } from "../migration/operands.ts";
import { entryWellFormed } from "../migration/gpa_list.ts";
import { migrationOf } from "../migration/session.ts";
import type { TdState } from "../state.ts";

/** Each state a write-block applies to and the blocked state. */
const BLOCKED_W: Record<string, string> = {
  MAPPED: "BLOCKEDW",
  EXPORTED_DIRTY: "EXPORTED_DIRTY_BLOCKEDW",
  PENDING: "PENDING_BLOCKEDW",
  PENDING_EXPORTED_DIRTY: "PENDING_EXPORTED_DIRTY_BLOCKEDW",
};

export const tdhExportBlockw: LeafHandler = (ctx) => {
  const infoIn = ctx.in("gpa_list_info");
  const infoLayout = ctx.spec.bitfield("GPA_LIST_INFO").fields;
  const info = decodeBits(infoLayout, infoIn).fields;
  let entryNum = Number(info.first_entry);
  const done = (c: Completion) => {
    ctx.out("gpa_list_info", encodeBits(infoLayout, { ...info, first_entry: BigInt(entryNum) }));
    return c;
  };
  const opened = openTd(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "shared", "shared");
  if (opened.fail) return done(opened.fail);
  const td = opened.value;
  const tree = ctx.lock(lockKey.septTree(td.tdr), "shared", "SEPT_TREE");
  if (tree) return done(tree);
  const rcx = ctx.operandOf("gpa_list_info");
  const gpaOnly = ctx.spec.enumValue("GPA_LIST_FORMAT", "GPA_ONLY");
  if (info.format !== gpaOnly) return done(ctx.status("TDX_OPERAND_INVALID", rcx));
  const listPa = info.hpa << 12n;
  if (
    info.reserved_54_52 !== 0n || info.first_entry > info.last_entry ||
    sharedPageInvalid(ctx, listPa)
  ) {
    return done(ctx.status("TDX_OPERAND_INVALID", rcx));
  }

  const last = Number(info.last_entry);
  let problems = 0n;
  for (; entryNum <= last; entryNum++) {
    const r = blockEntry(ctx, td, listPa + BigInt(8 * entryNum));
    if (r === "invalid") return done(ctx.status("TDX_OPERAND_INVALID", "GPA_LIST_ENTRY"));
    if (r === "problem") problems++;
    if (entryNum < last && ctx.cpu.hostInterruptPending(ctx.lp.id)) {
      entryNum++;
      return done(ctx.status("TDX_INTERRUPTED_RESUMABLE"));
    }
  }
  entryNum = last;
  return done(ctx.status("TDX_SUCCESS", problems));
};

/** One list entry, written back with its status. */
function blockEntry(
  ctx: LeafContext,
  td: TdState,
  at: bigint,
): "ok" | "skipped" | "problem" | "invalid" {
  const mem = ctx.cpu.memory;
  const layout = ctx.spec.bitfield("GPA_LIST_ENTRY").fields;
  const raw = new DataView(mem.read(at, 8).buffer).getBigUint64(0, true);
  const e = decodeBits(layout, raw).fields;
  const op = (name: string) => ctx.spec.enumValue("GPA_LIST_ENTRY_OPERATION", name);
  const st = (name: string) => ctx.spec.enumValue("GPA_LIST_ENTRY_STATUS", name);
  const write = (operation: bigint, status: bigint) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, encodeBits(layout, { ...e, operation, status }), true);
    mem.write(at, b);
  };
  // As for every GPA list: reserved bits and the level; PENDING, L2_MAP and MIG_TYPE are
  // outputs of TDH.EXPORT.MEM, which the host may hand back as they are.
  const valid = entryWellFormed(e);
  const nop = op("NOP");
  // NOP and CANCEL (bit 0 clear) are not exports: skipped if well formed.
  if ((e.operation & op("MIGRATE")) === 0n) {
    if (!valid) {
      write(nop, st("GPA_LIST_ENTRY_INVALID"));
      return "invalid";
    }
    write(nop, st("SKIPPED"));
    return "skipped";
  }
  const g = septGeometry(ctx.spec, td);
  const gpa = e.gpa << 12n;
  if (!valid || !checkPrivateGpa(g, gpa)) {
    write(nop, st("GPA_LIST_ENTRY_INVALID"));
    return "invalid";
  }
  const fail = (status: string) => {
    write(nop, st(status));
    return "problem" as const;
  };
  const w = walk(ctx.spec, td, g, gpa, 0);
  if (!w.reached) return fail("SEPT_WALK_FAILED");
  if (!lockEntryHost(ctx, td, gpa, 0)) return fail("SEPT_ENTRY_BUSY_HOST_PRIORITY");
  try {
    const next = BLOCKED_W[w.entry.state];
    if (!next) return fail("SEPT_ENTRY_STATE_INCORRECT");
    setEntry(td, gpa, { ...w.entry, state: next });
    migrationOf(td).bwEpoch = td.epoch;
    write(e.operation, st("SUCCESS"));
    return "ok";
  } finally {
    ctx.state.locks.release(entryLockKey(td, gpa, 0), ctx.owner);
  }
}
