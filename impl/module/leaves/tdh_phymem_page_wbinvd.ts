// TDH.PHYMEM.PAGE.WBINVD: writes back and invalidates the cache lines of one reclaimed
// (PT_NDA) 4 KiB page for the HKID in the address's KeyID bits. The memory model keeps no
// caches, so the flush changes nothing observable beyond the checks.
import type { LeafHandler } from "../leaf_context.ts";
import { checkAndLockHpa } from "../hpa_checks.ts";

export const tdhPhymemPageWbinvd: LeafHandler = (ctx) => {
  const raw = ctx.in("page_pa_with_hkid");
  // The HKID selects whose lines are flushed; the checks look at the address without it
  // (bits above MAX_PA stay, and fail the checks).
  const mem = ctx.cpu.memory;
  const hkidMask = ((1n << BigInt(mem.maxPa)) - 1n) & ~mem.addressMask;
  const pa = raw & ~hkidMask;
  const r = checkAndLockHpa(ctx, pa, ctx.operandOf("page_pa_with_hkid"), {
    expectedType: "PT_NDA",
    lock: "shared",
  });
  if (r.fail) return r.fail;
  return ctx.ok();
};
