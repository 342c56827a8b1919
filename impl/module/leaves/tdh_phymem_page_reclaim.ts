// TDH.PHYMEM.PAGE.RECLAIM: gives a page of a torn-down TD back to the host: its PAMT
// leaf (4 KiB, 2 MiB or 1 GiB) becomes PT_NDA. A TD's pages go first; the TDR last,
// once no page names it as owner. The page's contents are left as they are.
import type { LeafHandler } from "../leaf_context.ts";
import { lockKey } from "../locks.ts";
import { pamtOwner, walkPamt } from "../pamt_walk.ts";
import { clearOutputs } from "../platform_helpers.ts";

export const tdhPhymemPageReclaim: LeafHandler = (ctx) => {
  const pa = ctx.in("page_pa");
  clearOutputs(ctx);
  const rcx = ctx.operandOf("page_pa");
  const w = walkPamt(ctx, pa, rcx, "exclusive");
  if (w.fail) return w.fail;
  const { base, entry } = w.leaf;
  if (entry.pageType === "PT_NDA" || entry.pageType === "PT_RSVD") {
    return ctx.status("TDX_PAGE_METADATA_INCORRECT", rcx);
  }
  const owner = pamtOwner(entry);
  ctx.out("page_type", ctx.spec.enumValue("PAGE_TYPE", entry.pageType));
  ctx.out("owner", owner);
  ctx.outFields("page_size", { level: BigInt(entry.level) });
  if (pa !== base) return ctx.status("TDX_OPERAND_INVALID", rcx);
  const isTdr = entry.pageType === "PT_TDR";
  const tdr = isTdr ? pa : owner;
  if (!isTdr) {
    const busy = ctx.lock(lockKey.page(tdr), "shared", "TDR");
    if (busy) return busy;
  }
  const td = ctx.state.tds.get(tdr);
  if (!td || td.lifecycle !== "TD_TEARDOWN") return ctx.status("TDX_LIFECYCLE_STATE_INCORRECT");
  if (isTdr && ctx.state.pamt.ownedBy(tdr).length > 0) {
    return ctx.status("TDX_TD_ASSOCIATED_PAGES_EXIST");
  }
  ctx.state.pamt.set(base, { pageType: "PT_NDA", level: 0 });
  if (isTdr) ctx.state.tds.delete(tdr);
  if (entry.pageType === "PT_TDVPR") {
    ctx.state.vcpus.delete(base);
    ctx.cpu.discardGuest(base);
  }
  return ctx.ok();
};
