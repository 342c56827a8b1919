// TDH.SYS.SHUTDOWN: starts a TD-preserving update. Checks the requested handoff version
// against the module's SIGSTRUCT values, refuses while another LP is inside SEAM, then
// shuts the module down and leaves the handoff data in the SEAM range.
import type { LeafHandler } from "../leaf_context.ts";
import { lockGlobal } from "../platform_helpers.ts";
import { handoffSize, prepareHandoff } from "../handoff.ts";

export const tdhSysShutdown: LeafHandler = (ctx) => {
  const hv = ctx.in("handoff_version");
  const s = ctx.state.profile.sigstruct;
  if (
    hv < BigInt(s.minUpdateHv) || hv > BigInt(s.moduleHv) ||
    (s.noDowngrade && hv !== BigInt(s.moduleHv))
  ) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("handoff_version"));
  }
  const busy = lockGlobal(ctx, "exclusive");
  if (busy) return busy;
  // Another LP inside the module (a SEAMCALL or a TD running) keeps the module up.
  const othersInSeam = ctx.cpu.lps.some((lp) => lp.id !== ctx.lp.id && lp.mode !== "vmx-root");
  if (othersInSeam) return ctx.status("TDX_SYS_BUSY");
  ctx.state.platform.sysState = "SYS_SHUTDOWN";
  ctx.cpu.seamHandoff = {
    valid: true,
    hv: Number(hv),
    size: handoffSize(ctx.state),
    data: prepareHandoff(ctx.state),
  };
  return ctx.ok();
};
