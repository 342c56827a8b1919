// TDH.QUOTE.INIT (2026 Quoting extension, provisional): creates (or, after an update,
// renews) the module's quoting keys once the extensions are initialised, in steps a
// pending host interrupt can stop. Afterwards MAX_QUOTE_SIZE is valid.
import type { LeafHandler } from "../leaf_context.ts";
import { addOnEnabled, extensionsSupported, hasFeature } from "../extensions.ts";

export const tdhQuoteInit: LeafHandler = (ctx) => {
  const s = ctx.state;
  if (!extensionsSupported(s) || !hasFeature(s, "QUOTE")) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("leaf_and_version"));
  }
  const p = s.platform;
  if (!addOnEnabled(ctx.spec, s, "QUOTE") || !p.extensions.initialized) {
    return ctx.status("TDX_SYS_STATE_INCORRECT");
  }
  const steps = Math.max(1, s.profile.extensions.quoteInitSteps);
  if (p.extensions.quoteInitialized && p.quoteInitProgress >= steps) p.quoteInitProgress = 0;
  while (p.quoteInitProgress < steps) {
    p.quoteInitProgress++;
    if (p.quoteInitProgress < steps && ctx.cpu.hostInterruptPending(ctx.lp.id)) {
      return ctx.status("TDX_INTERRUPTED_RESUMABLE");
    }
  }
  p.extensions.quoteInitialized = true;
  p.updatePending = false;
  return ctx.ok();
};
