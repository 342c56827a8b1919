// TDH.VP.CREATE: turns a free page into the TDVPR of a new, uninitialised vCPU of an
// initialised TD.
import type { LeafHandler } from "../leaf_context.ts";
import { checkAndLockHpa } from "../hpa_checks.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";

export const tdhVpCreate: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "shared");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, "shared");
  if (bad) return bad;
  const pa = ctx.in("tdvpr_pa");
  const page = checkAndLockHpa(ctx, pa, ctx.operandOf("tdvpr_pa"), {
    expectedType: "PT_NDA",
    lock: "exclusive",
  });
  if (page.fail) return page.fail;

  const mem = ctx.cpu.memory;
  mem.zeroPage(mem.withKeyId(pa, td.hkid));
  ctx.cpu.discardGuest(pa);
  ctx.state.vcpus.set(pa, {
    tdvpr: pa,
    tdr: td.tdr,
    tdcx: [],
    state: "created",
    index: 0,
    launched: false,
    gprs: new Map(),
    fields: new Map(),
    cpuidVe: { supervisor: false, user: false },
  });
  td.vcpus.push(pa);
  td.childCount = (td.childCount ?? 0) + 1;
  ctx.state.pamt.set(pa, { pageType: "PT_TDVPR", owner: td.tdr, level: 0 });
  return ctx.ok();
};
