// TDG.VP.VMCALL: the guest hands control to the host. After checking RCX's register
// selection, the vCPU records the pending TDVMCALL (the guest's live registers and the
// selection) and the CPU is asked to exit the TD once the TDCALL returns; TDH.VP.ENTER
// later copies the host's answers into the selected registers and resumes the guest.
import { decodeBits } from "../../spec/bits.ts";
import type { LeafHandler } from "../leaf_context.ts";
import { currentGuest } from "../guest_access.ts";

/** GPR numbers (x86 encoding) the guest may not expose: RAX, RCX and RSP. */
const NEVER_EXPOSED = [0, 1, 4];
const RBP = 5;

export const tdgVpVmcall: LeafHandler = (ctx) => {
  const g = currentGuest(ctx);
  const control = ctx.in("control");
  const f = ctx.inFields("control");
  const select = f.GPR_SELECT;
  const bit = (n: number) => ((select >> BigInt(n)) & 1n) === 1n;
  if (NEVER_EXPOSED.some(bit) || f.RESERVED !== 0n) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("control"));
  }
  const flags = g.td.configFlags ?? 0n;
  const noRbpMod = decodeBits(ctx.spec.bitfield("CONFIG_FLAGS").fields, flags).fields.NO_RBP_MOD;
  if (noRbpMod === 1n && bit(RBP)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("control"));
  }
  g.vcpu.pendingExit = { kind: "tdvmcall", regs: ctx.regs, mask: control };
  ctx.cpu.requestTdExit(ctx.lp);
  return ctx.ok();
};
