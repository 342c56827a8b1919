// TDH.SYS.LP.SHUTDOWN: a deprecated leaf that does nothing; the only one still accepted
// after TDH.SYS.SHUTDOWN.
import type { LeafHandler } from "../leaf_context.ts";

export const tdhSysLpShutdown: LeafHandler = (ctx) => {
  ctx.state.platform.lpShutdown.add(ctx.lp.id);
  return ctx.ok();
};
