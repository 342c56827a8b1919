// TDH.SYS.UPDATE: on a freshly loaded module (after TDH.SYS.INIT and TDH.SYS.LP.INIT on
// every LP), takes over the previous module's handoff data instead of TDH.SYS.CONFIG,
// KEY.CONFIG and TDMR.INIT, and makes the module SYS_READY. The extensions keep their
// pool but must be initialised again (TDH.EXT.INIT, TDH.QUOTE.INIT); the add-on features
// stay those of the previous module, and a larger maximum quote size is refused.
import type { LeafHandler } from "../leaf_context.ts";
import { lockGlobal } from "../platform_helpers.ts";
import { isHandoffData, retrieveHandoff } from "../handoff.ts";
import { addOnFeaturesInvalid, extensionsSupported } from "../extensions.ts";
import { completeCpuidHandling } from "../platform_sample.ts";

export const tdhSysUpdate: LeafHandler = (ctx) => {
  if (ctx.version >= 1 && !extensionsSupported(ctx.state)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("leaf_and_version"));
  }
  const busy = lockGlobal(ctx, "exclusive");
  if (busy) return busy;
  const p = ctx.state.platform;
  if (p.sysState !== "SYSINIT_DONE" || !p.sampled || p.lpInitialized.size < p.sampled.numLps) {
    return ctx.status("TDX_SYS_STATE_INCORRECT");
  }
  const h = ctx.cpu.seamHandoff;
  const s = ctx.state.profile.sigstruct;
  if (
    !h?.valid || h.hv < s.minUpdateHv || h.hv > s.moduleHv || !isHandoffData(h.data)
  ) {
    return ctx.status("TDX_SYS_INVALID_HANDOFF");
  }
  const data = h.data;
  if (
    data.maxQuoteSize !== undefined &&
    ctx.state.profile.extensions.maxQuoteSize > data.maxQuoteSize
  ) {
    return ctx.status("TDX_SYS_INVALID_HANDOFF");
  }
  if (ctx.version >= 1) {
    const addOn = ctx.in("addon_features0");
    if (addOnFeaturesInvalid(ctx, addOn) || addOn !== data.addOnFeatures) {
      return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("addon_features0"));
    }
  }
  retrieveHandoff(ctx.state, data);
  completeCpuidHandling(ctx.spec, p.sampled);
  h.valid = false;
  h.size = 0;
  p.sysState = "SYS_READY";
  return ctx.ok();
};
