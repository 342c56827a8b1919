// The PAMT walk of the physical-memory leaves: an address must be 4 KiB aligned, below
// MAX_PA and without HKID bits (TDX_OPERAND_INVALID), in an initialised 1 GiB block of a
// TDMR (TDX_OPERAND_ADDR_RANGE_ERROR); the walk stops at the first leaf (1 GiB, 2 MiB or
// 4 KiB) and locks it (TDX_OPERAND_BUSY). All three name the operand.
import type { Completion } from "./completion.ts";
import type { LeafContext } from "./leaf_context.ts";
import { hpaOperandInvalid, inTdmr } from "./hpa_checks.ts";
import { lockKey, type LockMode } from "./locks.ts";
import type { PamtEntry } from "./pamt.ts";

export interface PamtLeaf {
  /** Address of the leaf's first 4 KiB page. */
  base: bigint;
  entry: Readonly<PamtEntry>;
}

export function walkPamt(
  ctx: LeafContext,
  pa: bigint,
  operand: string,
  mode: LockMode,
): { fail: Completion } | { fail?: undefined; leaf: PamtLeaf } {
  if (hpaOperandInvalid(ctx, pa, 4096n)) {
    return { fail: ctx.status("TDX_OPERAND_INVALID", operand) };
  }
  if (!inTdmr(ctx, pa)) return { fail: ctx.status("TDX_OPERAND_ADDR_RANGE_ERROR", operand) };
  const leaf = ctx.state.pamt.leaf(pa);
  const busy = ctx.lock(lockKey.page(leaf.base), mode, operand);
  if (busy) return { fail: busy };
  return { leaf };
}

/** The owner TDR a PAMT entry names (0 for a TDR and for pages without one). */
export function pamtOwner(entry: Readonly<PamtEntry>): bigint {
  return entry.owner ?? 0n;
}
