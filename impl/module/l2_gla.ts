// Guest linear addresses an L1 VMM asks the module to flush for an L2 VM (TDG.VP.INVVPID):
// a GLA_LIST_ENTRY names BASE_GLA and LAST_GLA_INDEX further 4 KiB pages. INVVPID
// (individual address) fails on a non-canonical address, which the leaf reports.
import { decodeBits, encodeBits } from "../spec/bits.ts";
import type { LeafContext } from "./leaf_context.ts";

/** Linear-address width of the calling LP (CPUID ADDRESS_SIZES). */
function linearBits(ctx: LeafContext): number {
  const leaf = Number(ctx.spec.enumValue("CPUID_LEAF", "ADDRESS_SIZES"));
  const eax = ctx.cpu.cpuidOn(ctx.lp.id, leaf).eax;
  return Number(
    decodeBits(ctx.spec.bitfield("CPUID_80000008_EAX").fields, BigInt(eax)).fields
      .LA_BITS,
  );
}

/** Bits 63 down to the top implemented bit are all equal. */
export function canonical(la: bigint, bits: number): boolean {
  const top = la >> BigInt(bits - 1);
  return top === 0n || top === (1n << BigInt(65 - bits)) - 1n;
}

/**
 * INVVPID of every page of one GLA-list entry, first to last; false at the first
 * non-canonical address (the pages before it are flushed). The model keeps no TLB, so a
 * flush has no other effect.
 */
export function invvpidEntry(ctx: LeafContext, entry: bigint): boolean {
  const layout = ctx.spec.bitfield("GLA_LIST_ENTRY").fields;
  const f = decodeBits(layout, entry).fields;
  const bits = linearBits(ctx);
  const pages = (1n << 52n) - 1n;
  for (let i = 0n; i <= f.LAST_GLA_INDEX; i++) {
    const la = encodeBits(layout, { BASE_GLA: (f.BASE_GLA + i) & pages, LAST_GLA_INDEX: 0n });
    if (!canonical(la, bits)) return false;
  }
  return true;
}
