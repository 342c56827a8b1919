// TDG.VP.INVVPID: the L1 VMM flushes an L2 VM's TLB entries for guest linear addresses
// (INVVPID individual-address with the VM's VPID). RCX names the VM and says whether RDX
// is one GLA-list entry or a GLA-list info pointing to a private list page. List entries
// are processed from FIRST_ENTRY on; RDX comes back with the entries still to do, and a
// virtual interrupt pending for the guest between two entries ends the TDCALL without
// completing it, so that it resumes from the updated RDX after the interrupt.
import { decodeBits, reservedMask } from "../../spec/bits.ts";
import type { LeafHandler } from "../leaf_context.ts";
import { aboveGpaw, currentGuest, noCompletion, readGuest, sharedBit } from "../guest_access.ts";
import { invvpidEntry } from "../l2_gla.ts";
import { l2VmOperand } from "../l2_vm_select.ts";

const ENTRY_BYTES = 8;

export const tdgVpInvvpid: LeafHandler = (ctx) => {
  const g = currentGuest(ctx);
  const sel = l2VmOperand(ctx, g.td, "vm_and_flags");
  if (!sel) return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("vm_and_flags"));
  const rdx = ctx.in("entry_or_list");
  if (sel.fields.LIST === 0n) {
    return invvpidEntry(ctx, rdx) ? ctx.ok() : ctx.status("TDX_GLA_NOT_CANONICAL");
  }

  const layout = ctx.leaf.inputs.find((r) => r.name === "entry_or_list")!.fields!;
  const list = ctx.leaf.memory_operands!.find((m) => m.name === "gla_list")!;
  const maxEntries = BigInt(list.size / ENTRY_BYTES);
  const info = decodeBits(layout, rdx).fields;
  const operand = ctx.operandOf("entry_or_list");
  if ((rdx & reservedMask(layout)) !== 0n || info.FIRST_ENTRY + info.NUM_ENTRIES > maxEntries) {
    return ctx.status("TDX_OPERAND_INVALID", operand);
  }
  const gpa = info.LIST_GPA << 12n;
  if ((gpa & sharedBit(ctx, g.td)) !== 0n || aboveGpaw(ctx, g.td, gpa)) {
    return ctx.status("TDX_OPERAND_INVALID", operand);
  }
  // The whole list page is mapped once; a failed walk is a #VE or an EPT-violation exit.
  const page = readGuest(ctx, g, gpa, list.size);
  if (!page.ok) return page.done;
  const view = new DataView(page.bytes.buffer, page.bytes.byteOffset, page.bytes.byteLength);

  let { FIRST_ENTRY: first, NUM_ENTRIES: left } = info;
  let interrupted = false;
  while (left > 0n && !interrupted) {
    const entry = view.getBigUint64(Number(first) * ENTRY_BYTES, true);
    // RDX keeps the caller's value when an entry fails.
    if (!invvpidEntry(ctx, entry)) return ctx.status("TDX_GLA_NOT_CANONICAL");
    first++;
    left--;
    interrupted = g.vcpu.guestInterruptPending === true;
  }
  ctx.outFields("list_info", { ...info, FIRST_ENTRY: first, NUM_ENTRIES: left });
  return interrupted ? noCompletion(ctx) : ctx.ok();
};
