// TDG.VP.INVEPT: the L1 VMM flushes the TLB and paging-structure caches of the L2 VMs
// its RCX selects (bit n = VM n). VM 0 (L1 itself) and VMs the TD does not have cannot
// be selected. The model keeps no TLB, so a valid request has no further effect: the
// flush (INVEPT single-context of each VM's EPTP) is the CPU's.
import type { LeafHandler } from "../leaf_context.ts";
import { currentGuest } from "../guest_access.ts";

export const tdgVpInvept: LeafHandler = (ctx) => {
  const g = currentGuest(ctx);
  const mask = ctx.in("vm_mask");
  const vms = BigInt(g.td.numL2Vms ?? 0);
  if ((mask & 1n) !== 0n || (mask >> (vms + 1n)) !== 0n) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("vm_mask"));
  }
  return ctx.ok();
};
