// TDG.MR.VERIFYREPORT: the CPU's SEAMVERIFYREPORT on a REPORTMACSTRUCT in private guest
// memory: is its CPUSVN acceptable and its MAC one this platform made?
import { decodeBits } from "../../spec/bits.ts";
import type { LeafHandler } from "../leaf_context.ts";
import { aboveGpaw, currentGuest, readGuest, sharedBit } from "../guest_access.ts";
import { cpusvnAcceptable, macMatches } from "../report.ts";

export const tdgMrVerifyreport: LeafHandler = (ctx) => {
  const caps = decodeBits(
    ctx.spec.bitfield("SEAMOPS_CAPABILITIES").fields,
    ctx.cpu.seamopsCapabilities(ctx.lp.id),
  ).fields;
  if (caps.SEAMVERIFYREPORT !== 1n) return ctx.status("TDX_OPERAND_INVALID", "RAX");
  const g = currentGuest(ctx);
  const gpa = ctx.in("reportmacstruct_gpa");
  const rcx = ctx.operandOf("reportmacstruct_gpa");
  const operand = ctx.spec.tdcall("TDG.MR.VERIFYREPORT").memory_operands![0];
  if (gpa % BigInt(operand.alignment) !== 0n) return ctx.status("TDX_OPERAND_INVALID", rcx);
  if ((gpa & sharedBit(ctx, g.td)) !== 0n || aboveGpaw(ctx, g.td, gpa)) {
    return ctx.status("TDX_OPERAND_INVALID", rcx);
  }
  const r = readGuest(ctx, g, gpa, operand.size);
  if (!r.ok) return r.done;
  if (!cpusvnAcceptable(ctx.spec, ctx.state, r.bytes)) return ctx.status("TDX_INVALID_CPUSVN");
  if (!macMatches(ctx.spec, ctx.state.reportMacKey, r.bytes)) {
    return ctx.status("TDX_INVALID_REPORTMACSTRUCT");
  }
  return ctx.ok();
};
