// TDG.VP.VEINFO.GET: hands the guest the #VE information saved at the last #VE and
// frees the VE_INFO area for the next one.
import type { LeafHandler } from "../leaf_context.ts";
import { currentGuest } from "../guest_access.ts";

export const tdgVpVeinfoGet: LeafHandler = (ctx) => {
  const { vcpu } = currentGuest(ctx);
  const ve = vcpu.veInfo;
  const outs = (reason: bigint, qual: bigint, gla: bigint, gpa: bigint, length = 0n, info = 0n) => {
    ctx.outFields("exit_reason", { EXIT_REASON: reason });
    ctx.out("exit_qualification", qual);
    ctx.out("guest_linear_address", gla);
    ctx.out("guest_physical_address", gpa);
    ctx.outFields("instruction_info", { INSTRUCTION_LENGTH: length, INSTRUCTION_INFO: info });
  };
  if (!ve?.valid) {
    outs(0n, 0n, 0n, 0n);
    return ctx.status("TDX_NO_VALID_VE_INFO");
  }
  outs(ve.exitReason & 0xFFFF_FFFFn, ve.qualification, ve.gla, ve.gpa);
  vcpu.veInfo = { ...ve, valid: false };
  return ctx.ok();
};
