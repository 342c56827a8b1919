// The checks the module makes on a host physical address operand before it uses the
// page, in the module's order: alignment, no HKID bits, below MAX_PA (each
// TDX_OPERAND_INVALID); inside a TDMR (TDX_OPERAND_ADDR_RANGE_ERROR); the PAMT entry
// lock (TDX_OPERAND_BUSY); the expected page type and size (TDX_PAGE_METADATA_INCORRECT).
// Every failure names the operand.
import type { Completion } from "./completion.ts";
import type { LeafContext } from "./leaf_context.ts";
import { lockKey, type LockMode } from "./locks.ts";
import type { PamtEntry } from "./pamt.ts";

export interface HpaCheck {
  alignment?: bigint;
  /** PAGE_TYPE name the PAMT must show, e.g. PT_NDA or PT_TDR. */
  expectedType: string;
  lock: LockMode;
  /** Expected mapping level (0 = 4 KiB). */
  level?: number;
}

export function hpaOperandInvalid(ctx: LeafContext, pa: bigint, alignment: bigint): boolean {
  const mem = ctx.cpu.memory;
  if (pa % alignment !== 0n) return true;
  if (mem.split(pa).keyId !== 0) return true;
  return pa >= 1n << BigInt(mem.maxPa);
}

/**
 * Inside a TDMR, in a 1 GiB block TDH.SYS.TDMR.INIT has finished (the module's
 * pamt_get_block: the address must lie below the TDMR's next-to-initialise address
 * rounded down to 1 GiB).
 */
export function inTdmr(ctx: LeafContext, pa: bigint): boolean {
  const addr = pa & ctx.cpu.memory.addressMask;
  const ready = (t: { base: bigint; initialized: bigint }) =>
    (t.base + t.initialized) & ~((1n << 30n) - 1n);
  return ctx.state.platform.tdmrs.some((t) => addr >= t.base && addr < ready(t));
}

/** Checks and locks a private page operand; returns the failure, or undefined and the PAMT entry. */
export function checkAndLockHpa(
  ctx: LeafContext,
  pa: bigint,
  operand: string,
  check: HpaCheck,
): { fail: Completion; entry?: undefined } | { fail?: undefined; entry: Readonly<PamtEntry> } {
  if (hpaOperandInvalid(ctx, pa, check.alignment ?? 4096n)) {
    return { fail: ctx.status("TDX_OPERAND_INVALID", operand) };
  }
  if (!inTdmr(ctx, pa)) return { fail: ctx.status("TDX_OPERAND_ADDR_RANGE_ERROR", operand) };
  const busy = ctx.lock(lockKey.page(pa), check.lock, operand);
  if (busy) return { fail: busy };
  // A 4 KiB address inside a TD's large page belongs to that page, not to a free 4 KiB one.
  const entry = ctx.state.pamt.leaf(pa).entry;
  if (entry.pageType !== check.expectedType || entry.level !== (check.level ?? 0)) {
    return { fail: ctx.status("TDX_PAGE_METADATA_INCORRECT", operand) };
  }
  return { entry };
}

/** A shared (host) buffer operand: below MAX_PA, outside SEAM memory, with a shared KeyID. */
export function sharedHpaInvalid(
  ctx: LeafContext,
  pa: bigint,
  size: bigint,
  alignment = 1n,
): boolean {
  const mem = ctx.cpu.memory;
  if (pa % alignment !== 0n) return true;
  if (pa >> BigInt(mem.maxPa) !== 0n) return true;
  return ctx.cpu.isPrivateKeyId(mem.split(pa).keyId) || size < 0n;
}
