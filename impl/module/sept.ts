// The Secure EPT of a TD: the module's private translation of guest-physical to host-
// physical addresses, one tree for the TD (L1) and one per L2 VM.
//
// Model. Entries live in `TdState.sept` (L1) and `TdState.l2Sept[vm]` (L2 VM 1..3),
// keyed by level and the GPA aligned to the level's size; an absent key is a FREE
// (L2_FREE) entry. Level 0 maps 4 KiB, 1 maps 2 MiB, 2 maps 1 GiB; levels 3 and 4 are
// only non-leaf. The root page (TDCS page SEPT_ROOT_PAGE_INDEX) holds the entries of
// the top level, EPT_PWL of the TD's EPTP (3 for a 4-level, 4 for a 5-level Secure
// EPT). An entry below the top exists only inside a Secure EPT page (PT_EPT in the
// PAMT) that TDH.MEM.SEPT.ADD or TDH.MEM.PAGE.DEMOTE linked as NL_MAPPED above it.
// States are the SEPT_ENTRY_STATE names (sept_states.ts gives what each one means);
// the blocking epoch of a page lives in its PAMT entry (BEPOCH), as in the module.
//
// For the guest side (TDCALL leaves):
// - `translateGpa(spec, td, gpa)` walks to the leaf mapping a private GPA: either
//   `{ ok: true, hpa, state, level }` (a present leaf: MAPPED, BLOCKEDW, EXPORTED_*),
//   or `{ ok: false, level, state, entry }` with the entry where the walk stopped
//   (missing level, PENDING, BLOCKED...). The HPA has no KeyID: access TD memory as
//   `cpu.memory.withKeyId(hpa, td.hkid)`. TDG.MR.REPORT & co. use it for GPA operands.
// - `acceptPage(ctx, td, gpa, level, guestInterruptPending)` is TDG.MEM.PAGE.ACCEPT's
//   Secure EPT work: zero the page(s) with the TD's key and make the leaf MAPPED. Its
//   result says which status to return (see AcceptResult).
// - `checkPrivateGpa(geometry, gpa)`, `septGeometry(spec, td)`, `entryAt`, `walk`,
//   `l2Entry` / `setL2Leaf` (TDG.MEM.PAGE.ATTR.WR: per-VM attributes of a leaf) and
//   `archEntry` / `levelAndState` (the RCX/RDX views of an entry) are shared too.
import type { Spec } from "../spec/mod.ts";
import { decodeBits, encodeBits } from "../spec/bits.ts";
import type { LeafContext } from "./leaf_context.ts";
import { lockKey } from "./locks.ts";
import type { SeptEntry, TdState } from "./state.ts";
import { acceptedState, traits, unblockedState } from "./sept_states.ts";

/** -1: "no page" in page-address operands. */
export const NULL_PA = 0xFFFF_FFFF_FFFF_FFFFn;
export const ENTRIES_PER_PAGE = 512;

/** Bytes an entry at `level` maps: 4 KiB, 2 MiB, 1 GiB, 512 GiB, 256 TiB. */
export function levelSize(level: number): bigint {
  return 4096n << BigInt(9 * level);
}

export function alignDown(gpa: bigint, level: number): bigint {
  return gpa & ~(levelSize(level) - 1n);
}

export interface SeptGeometry {
  /** Top level of the tree: EPT_PWL (3 = 4-level, 4 = 5-level). */
  maxLevel: number;
  /** Guest physical-address width, 48 or 52. */
  gpaw: number;
  /** The GPA bit that selects shared memory: bit 47 (GPAW 48) or bit 51 (GPAW 52). */
  sharedBit: bigint;
  numL2Vms: number;
}

/** The last geometry worked out per TD, with the inputs it came from. */
const geometries = new WeakMap<
  TdState,
  { spec: Spec; eptp?: bigint; configFlags?: bigint; numL2Vms?: number; g: SeptGeometry }
>();

/**
 * The TD's Secure EPT shape, from the EPTP and CONFIG_FLAGS TDH.MNG.INIT recorded. Every
 * Secure EPT leaf asks for it, so it is decoded again only when those inputs change.
 */
export function septGeometry(spec: Spec, td: TdState): SeptGeometry {
  const c = geometries.get(td);
  if (
    c && c.spec === spec && c.eptp === td.eptp && c.configFlags === td.configFlags &&
    c.numL2Vms === td.numL2Vms
  ) {
    return c.g;
  }
  const g = decodeGeometry(spec, td);
  geometries.set(td, {
    spec,
    eptp: td.eptp,
    configFlags: td.configFlags,
    numL2Vms: td.numL2Vms,
    g,
  });
  return g;
}

function decodeGeometry(spec: Spec, td: TdState): SeptGeometry {
  const pwl = td.eptp === undefined
    ? 3
    : Number(decodeBits(spec.bitfield("EPTP_CONTROLS").fields, td.eptp).fields.EPT_PWL);
  const gpaw52 = td.configFlags !== undefined &&
    decodeBits(spec.bitfield("CONFIG_FLAGS").fields, td.configFlags).fields.GPAW === 1n;
  const gpaw = gpaw52 ? 52 : 48;
  return Object.freeze({
    maxLevel: pwl,
    gpaw,
    sharedBit: 1n << BigInt(gpaw - 1),
    numL2Vms: td.numL2Vms ?? 0,
  });
}

/**
 * check_gpa_validity for a private GPA: the SHARED bit clear, nothing above bit 51, and
 * with GPAW 48 nothing in bits 51:48.
 */
export function checkPrivateGpa(g: SeptGeometry, gpa: bigint): boolean {
  if ((gpa & g.sharedBit) !== 0n) return false;
  if (gpa >> 52n !== 0n) return false;
  return g.gpaw === 52 || gpa >> 48n === 0n;
}

// ---------------------------------------------------------------------------------
// Entries

function table(td: TdState, vm: number): Map<string, SeptEntry> {
  if (vm === 0) return td.sept;
  if (!td.l2Sept) td.l2Sept = [];
  return td.l2Sept[vm] ??= new Map();
}

export function septKey(level: number, gpa: bigint): string {
  return `${level}:${alignDown(gpa, level).toString(16)}`;
}

export function freeEntry(level: number, vm = 0): SeptEntry {
  return { state: vm === 0 ? "FREE" : "L2_FREE", hpa: 0n, level, leaf: false, attributes: 0n };
}

export function isFree(e: SeptEntry): boolean {
  return e.state === "FREE" || e.state === "L2_FREE";
}

/** The entry at `level` covering `gpa` (a FREE one when nothing is stored there). */
export function entryAt(td: TdState, level: number, gpa: bigint, vm = 0): SeptEntry {
  return table(td, vm).get(septKey(level, gpa)) ?? freeEntry(level, vm);
}

/** Stores an entry (a FREE entry is forgotten). */
export function setEntry(td: TdState, gpa: bigint, e: SeptEntry, vm = 0): void {
  const key = septKey(e.level, gpa);
  if (isFree(e)) table(td, vm).delete(key);
  else table(td, vm).set(key, { ...e, leaf: traits(e.state).leaf });
}

/** Sets the state of the stored entry, keeping everything else. */
export function setState(td: TdState, gpa: bigint, level: number, state: string, vm = 0): void {
  const e = entryAt(td, level, gpa, vm);
  setEntry(td, gpa, { ...e, state }, vm);
}

/** R/W/X an entry grants (for an L2 leaf, what its GPA_ATTR says). */
export function rwxOf(spec: Spec, e: SeptEntry): bigint {
  if (e.state === "L2_MAPPED") {
    const a = decodeBits(spec.bitfield("GPA_ATTR_SINGLE_VM").fields, e.attributes).fields;
    return a.r | (a.w << 1n) | (a.xs << 2n);
  }
  return traits(e.state).rwx;
}

/** The 512 entries of the Secure EPT page an entry at `level` (> 0) points to. */
export function childEntries(
  td: TdState,
  gpa: bigint,
  level: number,
  vm = 0,
): { gpa: bigint; entry: SeptEntry }[] {
  const base = alignDown(gpa, level);
  const step = levelSize(level - 1);
  return Array.from({ length: ENTRIES_PER_PAGE }, (_, i) => {
    const g = base + BigInt(i) * step;
    return { gpa: g, entry: entryAt(td, level - 1, g, vm) };
  });
}

// ---------------------------------------------------------------------------------
// Walks

export interface SeptWalk {
  /** Whether the walk reached the requested level. */
  reached: boolean;
  /** The level of `entry`: the requested one, or where the walk stopped. */
  level: number;
  entry: SeptEntry;
}

/**
 * secure_ept_walk: from the top level down, stopping at the requested level, or earlier
 * at an entry that grants nothing (FREE, *BLOCKED, PENDING...) or is a leaf.
 */
export function walk(
  spec: Spec,
  td: TdState,
  g: SeptGeometry,
  gpa: bigint,
  level: number,
  vm = 0,
): SeptWalk {
  for (let l = g.maxLevel; l >= 0; l--) {
    const e = entryAt(td, l, gpa, vm);
    if (l === level) return { reached: true, level: l, entry: e };
    if (rwxOf(spec, e) === 0n || e.leaf) return { reached: false, level: l, entry: e };
  }
  throw new Error("unreachable: the walk always ends at level 0");
}

/** Walk to whatever leaf maps `gpa`; reached only for a leaf that grants some access. */
export function walkToLeaf(spec: Spec, td: TdState, g: SeptGeometry, gpa: bigint): SeptWalk {
  const w = walk(spec, td, g, gpa, 0);
  return { ...w, reached: w.entry.leaf && rwxOf(spec, w.entry) !== 0n };
}

export type Translation =
  | { ok: true; hpa: bigint; state: string; level: number; entry: SeptEntry }
  | { ok: false; state: string; level: number; entry: SeptEntry };

/** The HPA (no KeyID) a private GPA maps to, if a present leaf maps it. */
export function translateGpa(spec: Spec, td: TdState, gpa: bigint): Translation {
  const g = septGeometry(spec, td);
  const w = walkToLeaf(spec, td, g, gpa);
  if (!w.reached) return { ok: false, state: w.entry.state, level: w.level, entry: w.entry };
  const offset = gpa & (levelSize(w.level) - 1n);
  return {
    ok: true,
    hpa: w.entry.hpa + offset,
    state: w.entry.state,
    level: w.level,
    entry: w.entry,
  };
}

// ---------------------------------------------------------------------------------
// Architectural views returned in RCX (SEPT_ENTRY) and RDX (SEPT_LEVEL_AND_STATE)

/** set_arch_septe_details_in_vmm_regs / its L2 form: what the host may see of an entry. */
export function archEntry(spec: Spec, e: SeptEntry, opts: { debug?: boolean } = {}): bigint {
  const fields = spec.bitfield("SEPT_ENTRY").fields;
  if (isFree(e)) return encodeBits(fields, { sve: 1n });
  const l2 = e.state.startsWith("L2_");
  if (!e.leaf) {
    const rwx = rwxOf(spec, e);
    const v: Record<string, bigint> = { r: rwx & 1n, w: (rwx >> 1n) & 1n, x: (rwx >> 2n) & 1n };
    if (l2) v.xu = rwx === 0n ? 0n : 1n;
    return encodeBits(fields, v);
  }
  const v: Record<string, bigint> = {
    mt: spec.enumValue("ept_memory_type", "WB"),
    ipat: 1n,
    ps: 1n,
    // A partially accepted 2 MiB page keeps its accept counter in the low HPA bits.
    hpa: (e.hpa >> 12n) + BigInt(e.acceptCounter ?? 0),
  };
  if (!l2) {
    const rwx = traits(e.state).rwx;
    Object.assign(v, { r: rwx & 1n, w: (rwx >> 1n) & 1n, x: (rwx >> 2n) & 1n, sve: 1n });
    return encodeBits(fields, v);
  }
  const a = decodeBits(spec.bitfield("GPA_ATTR_SINGLE_VM").fields, e.attributes).fields;
  v.sve = a.sve;
  if (opts.debug) {
    const blocked = e.state === "L2_BLOCKED";
    Object.assign(v, {
      r: blocked ? 0n : a.r,
      w: blocked ? 0n : a.w,
      x: blocked ? 0n : a.xs,
      xu: blocked ? 0n : a.xu,
      vgp: a.vgp,
      pwa: a.pwa,
      sss: a.sss,
    });
  } else if (e.state === "L2_MAPPED") {
    Object.assign(v, { r: 1n, w: 1n, x: 1n, xu: 1n });
  }
  return encodeBits(fields, v);
}

export function levelAndState(spec: Spec, level: number, state: string, vm = 0): bigint {
  return encodeBits(spec.bitfield("SEPT_LEVEL_AND_STATE").fields, {
    level: BigInt(level),
    state: spec.enumValue("SEPT_ENTRY_STATE", state),
    vm: BigInt(vm),
  });
}

// ---------------------------------------------------------------------------------
// Entry locks: one bit per entry in the module; a host-side locker that finds the entry
// locked sets its host-priority bit, and a guest-side locker then backs off.

function hpKey(vm: number, level: number, gpa: bigint): string {
  return `${vm}:${septKey(level, gpa)}`;
}

export function entryLockKey(td: TdState, gpa: bigint, level: number): string {
  return lockKey.sept(td.tdr, alignDown(gpa, level), level);
}

/** sept_lock_acquire_host: true when locked (until the leaf returns). */
export function lockEntryHost(ctx: LeafContext, td: TdState, gpa: bigint, level: number): boolean {
  td.septHostPriority ??= new Set();
  if (ctx.state.locks.tryAcquire(entryLockKey(td, gpa, level), "exclusive", ctx.owner)) {
    td.septHostPriority.delete(hpKey(0, level, gpa));
    return true;
  }
  td.septHostPriority.add(hpKey(0, level, gpa));
  return false;
}

/** sept_lock_acquire_guest: a host-side operation that asked for priority wins. */
export function lockEntryGuest(
  ctx: LeafContext,
  td: TdState,
  gpa: bigint,
  level: number,
): "locked" | "busy" | "host-priority" {
  const key = entryLockKey(td, gpa, level);
  if (!ctx.state.locks.tryAcquire(key, "exclusive", ctx.owner)) return "busy";
  if (td.septHostPriority?.has(hpKey(0, level, gpa))) {
    ctx.state.locks.release(key, ctx.owner);
    return "host-priority";
  }
  return "locked";
}

/** Whether a host-side operation has asked for priority on the entry. */
export function hostPriority(td: TdState, gpa: bigint, level: number): boolean {
  return td.septHostPriority?.has(hpKey(0, level, gpa)) ?? false;
}

// ---------------------------------------------------------------------------------
// L2 aliases

export function isAliased(e: SeptEntry, vm: number): boolean {
  return ((e.aliases ?? 0) >> vm & 1) === 1;
}

export function withAlias(e: SeptEntry, vm: number, on: boolean): SeptEntry {
  const aliases = on ? (e.aliases ?? 0) | (1 << vm) : (e.aliases ?? 0) & ~(1 << vm);
  return { ...e, aliases };
}

/** The L2 VMs aliasing an L1 entry. */
export function aliasedVms(e: SeptEntry, numL2Vms: number): number[] {
  const out: number[] = [];
  for (let vm = 1; vm <= numL2Vms; vm++) if (isAliased(e, vm)) out.push(vm);
  return out;
}

export function l2Entry(td: TdState, vm: number, gpa: bigint, level: number): SeptEntry {
  return entryAt(td, level, gpa, vm);
}

/**
 * Maps an L1 leaf for L2 VM `vm` with GPA_ATTR `attributes` (sept_l2_set_leaf): the L2
 * entry mirrors the L1 page, blocked while the L1 leaf is not guest-accessible, and the
 * L1 entry records the alias. The L2 tree must already reach `level`.
 */
export function setL2Leaf(
  spec: Spec,
  td: TdState,
  vm: number,
  gpa: bigint,
  level: number,
  attributes: bigint,
): void {
  const l1 = entryAt(td, level, gpa);
  if (!l1.leaf) throw new Error("setL2Leaf: no L1 leaf at that level");
  const g = septGeometry(spec, td);
  if (!walk(spec, td, g, gpa, level, vm).reached) {
    throw new Error(`setL2Leaf: L2 VM ${vm} has no Secure EPT page down to level ${level}`);
  }
  const blocked = !traits(l1.state).guestAccessibleLeaf;
  setEntry(td, gpa, {
    state: blocked ? "L2_BLOCKED" : "L2_MAPPED",
    hpa: l1.hpa,
    level,
    leaf: true,
    attributes,
  }, vm);
  setEntry(td, gpa, withAlias(l1, vm, true));
}

/** Unblocks the L2 entries aliasing an L1 entry (sept_l2_unblock on each). */
export function unblockAliases(td: TdState, gpa: bigint, level: number, vms: number[]): void {
  for (const vm of vms) {
    const e = entryAt(td, level, gpa, vm);
    setEntry(td, gpa, { ...e, state: unblockedState(e.state) }, vm);
  }
}

// ---------------------------------------------------------------------------------
// TDG.MEM.PAGE.ACCEPT

export type AcceptResult =
  /** The whole page is accepted; the leaf is MAPPED (EXPORTED_DIRTY for an exported one). */
  | { kind: "accepted" }
  /** A 2 MiB accept stopped for a pending interrupt; call again to continue. */
  | { kind: "interrupted" }
  /** TDX_PAGE_ALREADY_ACCEPTED with detail `level`. */
  | { kind: "already-accepted"; level: number }
  /** TDX_PAGE_SIZE_MISMATCH with detail `level`: a Secure EPT page, not a leaf, is there. */
  | { kind: "size-mismatch"; level: number }
  /** An EPT violation TD exit (the host must AUG the page, or it is not acceptable). */
  | { kind: "violation"; level: number; entry: SeptEntry }
  /** TDX_OPERAND_BUSY (RCX) or TDX_OPERAND_BUSY_HOST_PRIORITY (RCX). */
  | { kind: "busy" }
  | { kind: "host-priority" };

/**
 * The Secure EPT part of TDG.MEM.PAGE.ACCEPT for a private GPA aligned to `level` (0
 * or 1): the caller has checked the operand (GPA_AND_LEVEL and `checkPrivateGpa`).
 */
export function acceptPage(
  ctx: LeafContext,
  td: TdState,
  gpa: bigint,
  level: number,
  guestInterruptPending: () => boolean = () => false,
): AcceptResult {
  const spec = ctx.spec;
  const g = septGeometry(spec, td);
  const w = walk(spec, td, g, gpa, level);
  if (!w.reached) {
    if (w.entry.leaf && traits(w.entry.state).guestAccessibleLeaf) {
      return { kind: "already-accepted", level: w.level };
    }
    return { kind: "violation", level: w.level, entry: w.entry };
  }
  const lock = lockEntryGuest(ctx, td, gpa, level);
  if (lock !== "locked") return { kind: lock };
  const e = entryAt(td, level, gpa);
  if (!isFree(e) && !e.leaf) return { kind: "size-mismatch", level };
  if (e.leaf && traits(e.state).guestAccessibleLeaf) return { kind: "already-accepted", level };
  const next = acceptedState(e.state);
  if (!next) return { kind: "violation", level, entry: e };

  const mem = ctx.cpu.memory;
  const zero = (i: number) => mem.zeroPage(mem.withKeyId(e.hpa + BigInt(i) * 4096n, td.hkid));
  let counter = e.acceptCounter ?? 0;
  if (level === 0) zero(0);
  else {
    // One 4 KiB page at a time, so that an interrupt can stop a 2 MiB accept part way.
    for (;;) {
      zero(counter);
      if (counter === ENTRIES_PER_PAGE - 1) {
        counter = 0;
        break;
      }
      counter++;
      if (guestInterruptPending()) {
        setEntry(td, gpa, { ...e, acceptCounter: counter });
        return { kind: "interrupted" };
      }
    }
  }
  setEntry(td, gpa, { ...e, state: next, acceptCounter: undefined });
  unblockAliases(td, gpa, level, aliasedVms(e, g.numL2Vms));
  return { kind: "accepted" };
}
