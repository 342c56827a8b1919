// The host's view of global metadata for TDH.SYS.RD/RDALL: the metadata context
// without a TD, and the check that the calling LP did TDH.SYS.LP.INIT.
import type { LeafContext } from "./leaf_context.ts";
import type { MdAccess, MdContext } from "./metadata.ts";

export const HOST_READ: MdAccess = { who: "host" };

export function hostMdContext(ctx: LeafContext): MdContext {
  return { spec: ctx.spec, cpu: ctx.cpu, state: ctx.state };
}

export function lpInitDone(ctx: LeafContext): boolean {
  return ctx.state.platform.lpInitialized.has(ctx.lp.id);
}
