// TDG.VP.CPUIDVE.SET: whether CPUID in supervisor and in user mode raises #VE on this vCPU.
import type { LeafHandler } from "../leaf_context.ts";
import { currentGuest } from "../guest_access.ts";

export const tdgVpCpuidveSet: LeafHandler = (ctx) => {
  const { vcpu } = currentGuest(ctx);
  const f = ctx.inFields("controls");
  if (f.RESERVED !== 0n) return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("controls"));
  vcpu.cpuidVe = { supervisor: f.SUPERVISOR === 1n, user: f.USER === 1n };
  return ctx.ok();
};
