// TDH.EXT.INIT (2026 extensions, provisional): initialises the extensions once their
// memory pool is complete, a few pool pages per step; a pending host interrupt stops it
// between steps and the host calls again. Nothing to do when no add-on needs them or
// they are already initialised.
import type { LeafHandler } from "../leaf_context.ts";
import { extensionsSupported, extRequired, poolPagesMissing } from "../extensions.ts";

export const tdhExtInit: LeafHandler = (ctx) => {
  const s = ctx.state;
  if (!extensionsSupported(s)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("leaf_and_version"));
  }
  const p = s.platform;
  if (p.extensions.initialized || !extRequired(s)) return ctx.ok();
  if (poolPagesMissing(s) > 0) return ctx.status("TDX_SYS_STATE_INCORRECT");
  const pages = p.extensions.memory.length;
  const step = Math.max(1, s.profile.extensions.initPagesPerCall);
  while (p.extInitProgress < pages) {
    p.extInitProgress = Math.min(pages, p.extInitProgress + step);
    if (p.extInitProgress < pages && ctx.cpu.hostInterruptPending(ctx.lp.id)) {
      return ctx.status("TDX_INTERRUPTED_RESUMABLE");
    }
  }
  p.extensions.initialized = true;
  return ctx.ok();
};
