// TDH.MR.EXTEND: measures one 256-byte chunk of a page already added to the TD into
// MRTD. The TDR is locked exclusively, which also keeps the Secure EPT stable, so the
// walk takes no SEPT lock.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { checkPrivateGpa, levelSize, septGeometry, walk } from "../sept.ts";
import { clearEntryOutputs, entryFailure } from "../sept_steps.ts";
import { mrtdExtend } from "../mrtd.ts";

export const tdhMrExtend: LeafHandler = (ctx) => {
  const gpa = ctx.in("chunk_gpa");
  const tdrPa = ctx.in("tdr_pa");
  // RCX and RDX carry the Secure EPT entry back only on a failed walk.
  clearEntryOutputs(ctx);
  const r = checkTdr(ctx, tdrPa, ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, undefined);
  if (bad) return bad;

  const chunk = ctx.leaf.memory_operands!.find((m) => m.name === "chunk")!;
  const g = septGeometry(ctx.spec, td);
  if (gpa % BigInt(chunk.alignment) !== 0n || !checkPrivateGpa(g, gpa)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("chunk_gpa"));
  }
  // Walk to whatever leaf maps the GPA; stopping at a non-leaf means nothing is mapped.
  const w = walk(ctx.spec, td, g, gpa, 0);
  if (!w.entry.leaf) return entryFailure(ctx, "TDX_EPT_ENTRY_NOT_PRESENT", w.entry, w.level);
  if (w.entry.state !== "MAPPED") return ctx.status("TDX_EPT_ENTRY_NOT_PRESENT");

  const hpa = w.entry.hpa + (gpa & (levelSize(w.level) - 1n));
  const mem = ctx.cpu.memory;
  const data = mem.read(mem.withKeyId(hpa, td.hkid), chunk.size);
  mrtdExtend(td, gpa, data, ctx.spec);
  return ctx.ok();
};
