// TDH.VP.ADDCX: adds one TDVPS page to a vCPU that has not been initialised yet.
import type { LeafHandler } from "../leaf_context.ts";
import { checkAndLockHpa } from "../hpa_checks.ts";
import { checkTdState } from "../td_gate.ts";
import { explicitTdvpr } from "../td_checks.ts";
import { tdxLimitN } from "../td_limits.ts";

export const tdhVpAddcx: LeafHandler = (ctx) => {
  const r = explicitTdvpr(ctx, ctx.in("tdvpr_pa"), ctx.operandOf("tdvpr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const { vcpu, td } = r.value;
  const bad = checkTdState(ctx, td, "shared");
  if (bad) return bad;
  if (vcpu.state !== "created") return ctx.status("TDX_VCPU_STATE_INCORRECT");
  if (1 + vcpu.tdcx.length >= tdxLimitN(ctx.spec, "MAX_TDVPS_PAGES")) {
    return ctx.status("TDX_TDCX_NUM_INCORRECT");
  }
  const pa = ctx.in("tdcx_pa");
  const page = checkAndLockHpa(ctx, pa, ctx.operandOf("tdcx_pa"), {
    expectedType: "PT_NDA",
    lock: "exclusive",
  });
  if (page.fail) return page.fail;

  const mem = ctx.cpu.memory;
  mem.zeroPage(mem.withKeyId(pa, td.hkid));
  vcpu.tdcx.push(pa);
  td.childCount = (td.childCount ?? 0) + 1;
  ctx.state.pamt.set(pa, { pageType: "PT_TDCX", owner: td.tdr, level: 0 });
  return ctx.ok();
};
