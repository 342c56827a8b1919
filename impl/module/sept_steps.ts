// Steps the TDH.MEM.* leaves share, each returning the failing completion (and putting
// the Secure EPT entry into RCX/RDX when the module does) or the value it found:
// the GPA_AND_LEVEL operand, the SEPT tree lock and walk, the entry lock, the mapped
// page's PAMT lock and the BLOCK + TRACK rule for unmapping while the TD may run.
import { decodeBits } from "../spec/bits.ts";
import type { Completion } from "./completion.ts";
import type { LeafContext } from "./leaf_context.ts";
import { lockKey, type LockMode } from "./locks.ts";
import {
  alignDown,
  archEntry,
  checkPrivateGpa,
  entryAt,
  levelAndState,
  levelSize,
  lockEntryHost,
  type SeptGeometry,
  type SeptWalk,
  walk,
} from "./sept.ts";
import { TLB_TRACKING_OP_STATES, traits } from "./sept_states.ts";
import type { SeptEntry, TdState } from "./state.ts";
import { isTlbTracked } from "./tlb_tracking.ts";
import { checkTdr, checkTdState } from "./td_gate.ts";

export type Step<T> = { fail: Completion; value?: undefined } | { fail?: undefined; value: T };

/**
 * verify_page_info_input on a GPA_AND_LEVEL value read before the leaf cleared its
 * outputs: reserved bits zero, level in [min, max], GPA aligned to the level.
 */
export function gpaAndLevel(
  ctx: LeafContext,
  value: bigint,
  min: number,
  max: number,
  input = "gpa_and_level",
): Step<{ gpa: bigint; level: number }> {
  const layout = ctx.spec.bitfield("GPA_AND_LEVEL").fields;
  const { fields } = decodeBits(layout, value);
  const reserved = layout.some((f) => f.reserved && fields[f.name] !== 0n);
  const level = Number(fields.level);
  const gpa = fields.gpa << 12n;
  if (reserved || level < min || level > max || gpa % levelSize(level) !== 0n) {
    return { fail: ctx.status("TDX_OPERAND_INVALID", ctx.operandOf(input)) };
  }
  return { value: { gpa, level } };
}

/** The output register (RCX) that carries SEPT_ENTRY on a Secure EPT error. */
function entryOutput(ctx: LeafContext): string {
  const o = ctx.leaf.outputs.find((x) => x.name.endsWith("sept_entry"));
  if (!o) throw new Error(`${ctx.leaf.name} has no SEPT entry output in the spec`);
  return o.name;
}

/**
 * set_arch_septe_details_in_vmm_regs: RCX = entry, RDX = level and state (and the VM for
 * an L2 entry; a debug TD's L2 entries show their attribute bits).
 */
export function reportEntry(
  ctx: LeafContext,
  e: SeptEntry,
  level: number,
  l2?: { vm: number; debug: boolean },
): void {
  ctx.out(entryOutput(ctx), archEntry(ctx.spec, e, { debug: l2?.debug }));
  ctx.out("sept_level_and_state", levelAndState(ctx.spec, level, e.state, l2?.vm ?? 0));
}

/** A status naming RCX, with the entry reported. */
export function entryFailure(
  ctx: LeafContext,
  status: string,
  e: SeptEntry,
  level: number,
): Completion {
  reportEntry(ctx, e, level);
  return ctx.status(status, "RCX");
}

export function isDebugTd(ctx: LeafContext, td: TdState | undefined): boolean {
  if (!td) return false;
  return decodeBits(ctx.spec.bitfield("TD_ATTRIBUTES").fields, td.attributes).fields.DEBUG === 1n;
}

/**
 * lock_sept_check_and_walk_private_gpa: private GPA check (RCX), the SEPT tree lock
 * (SEPT_TREE) unless `treeLock` is undefined, then the walk to `level` (RCX, with the
 * last entry reached reported).
 */
export function checkAndWalk(
  ctx: LeafContext,
  td: TdState,
  g: SeptGeometry,
  gpa: bigint,
  level: number,
  treeLock: LockMode | undefined,
): Step<SeptWalk> {
  if (!checkPrivateGpa(g, gpa)) return { fail: ctx.status("TDX_OPERAND_INVALID", "RCX") };
  if (treeLock) {
    const busy = ctx.lock(lockKey.septTree(td.tdr), treeLock, "SEPT_TREE");
    if (busy) return { fail: busy };
  }
  const w = walk(ctx.spec, td, g, gpa, level);
  if (!w.reached) return { fail: entryFailure(ctx, "TDX_EPT_WALK_FAILED", w.entry, w.level) };
  return { value: w };
}

/**
 * sept_lock_acquire_host on the walked entry (TDX_OPERAND_BUSY on RCX with the entry as
 * the walk saw it), then the entry read again under the lock. Between the walk and the
 * lock another logical processor may have changed the entry: `septRace` (tests) plays
 * that other processor's part.
 */
export function lockWalkedEntry(
  ctx: LeafContext,
  td: TdState,
  gpa: bigint,
  w: SeptWalk,
): Step<SeptEntry> {
  septRace.hook?.(td, alignDown(gpa, w.level), w.level);
  if (!lockEntryHost(ctx, td, gpa, w.level)) {
    return { fail: entryFailure(ctx, "TDX_OPERAND_BUSY", w.entry, w.level) };
  }
  return { value: entryAt(td, w.level, gpa) };
}

/** Test hook: runs between a leaf's walk and its entry lock (another LP's update). */
export const septRace: { hook?: (td: TdState, gpa: bigint, level: number) => void } = {};

/** pamt_implicit_get_and_lock of a page the Secure EPT points to (TDX_OPERAND_BUSY on RCX). */
export function lockMappedPage(ctx: LeafContext, pa: bigint): Completion | undefined {
  return ctx.lock(lockKey.page(pa), "exclusive", "RCX");
}

/**
 * The rule for unmapping or remapping while the TD may run (OP_STATE RUNNABLE,
 * LIVE_EXPORT, LIVE_IMPORT) an entry whose state needs it: blocked
 * (TDX_GPA_RANGE_NOT_BLOCKED, entry reported) and tracked since (TDX_TLB_TRACKING_NOT_DONE).
 */
export function checkBlockedAndTracked(
  ctx: LeafContext,
  td: TdState,
  e: SeptEntry,
  level: number,
  bepoch: bigint,
): Completion | undefined {
  const t = traits(e.state);
  if (!t.tlbTracking || !TLB_TRACKING_OP_STATES.has(td.opState)) return undefined;
  if (!t.blocked) return entryFailure(ctx, "TDX_GPA_RANGE_NOT_BLOCKED", e, level);
  if (!isTlbTracked(td, bepoch)) return ctx.status("TDX_TLB_TRACKING_NOT_DONE", "RCX");
  return undefined;
}

/** is_interrupt_pending_host_side on the calling logical processor (IA32_INTR_PENDING). */
export function hostInterruptPending(ctx: LeafContext): boolean {
  return ctx.cpu.hostInterruptPending(ctx.lp.id);
}

/** The TD's child count (TDR.CHLDCNT) moves by `n` pages. */
export function addChildren(td: TdState, n: number): void {
  td.childCount = (td.childCount ?? 0) + n;
}

/**
 * "By default, no extended error code is returned": RCX and RDX start at 0. They are
 * also input registers, so a leaf reads its inputs first.
 */
export function clearEntryOutputs(ctx: LeafContext): void {
  ctx.out(entryOutput(ctx), 0n);
  ctx.out("sept_level_and_state", 0n);
}

/** Writes a TD's result page address into its output (RCX) on success. */
export function outEntryRegister(ctx: LeafContext, value: bigint): void {
  ctx.out(entryOutput(ctx), value);
}

/** The checks TDH.MEM.* leaves open with: TDR operand, TD state (shared OP_STATE lock). */
export function openTd(
  ctx: LeafContext,
  tdrPa: bigint,
  tdrOperand: string,
  tdrLock: LockMode,
  opStateLock: LockMode | undefined,
): Step<TdState> {
  const r = checkTdr(ctx, tdrPa, tdrOperand, tdrLock);
  if (r.fail) return r;
  const fail = checkTdState(ctx, r.value, opStateLock);
  return fail ? { fail } : r;
}
