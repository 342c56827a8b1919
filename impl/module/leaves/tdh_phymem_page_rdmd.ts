// TDH.PHYMEM.PAGE.RDMD: reads the PAMT metadata of the leaf (4 KiB, 2 MiB or 1 GiB) that
// holds a physical address: page type, owner TDR, size and, for TD pages, the blocking epoch.
import type { LeafHandler } from "../leaf_context.ts";
import { pamtOwner, walkPamt } from "../pamt_walk.ts";
import { clearOutputs } from "../platform_helpers.ts";

export const tdhPhymemPageRdmd: LeafHandler = (ctx) => {
  const pa = ctx.in("page_pa");
  clearOutputs(ctx);
  const w = walkPamt(ctx, pa, ctx.operandOf("page_pa"), "shared");
  if (w.fail) return w.fail;
  const e = w.leaf.entry;
  ctx.out("page_type", ctx.spec.enumValue("PAGE_TYPE", e.pageType));
  ctx.out("owner", pamtOwner(e));
  ctx.out("page_size", BigInt(e.level));
  if (e.pageType === "PT_REG" || e.pageType === "PT_EPT") ctx.out("bepoch", e.bepoch ?? 0n);
  return ctx.ok();
};
