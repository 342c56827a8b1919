// TDH.MNG.KEY.RECLAIMID: kept for compatibility; the module ignores its input and does
// nothing (HKID reclamation is TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB and
// TDH.MNG.KEY.FREEID).
import type { LeafHandler } from "../leaf_context.ts";

export const tdhMngKeyReclaimid: LeafHandler = (ctx) => ctx.ok();
