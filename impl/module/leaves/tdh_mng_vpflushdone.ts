// TDH.MNG.VPFLUSHDONE: first teardown step. With every vCPU flushed, the TD is
// blocked and its HKID marked flushed, pending a cache write-back on every package.
import type { LeafHandler } from "../leaf_context.ts";
import { lockKey } from "../locks.ts";
import { checkTdr } from "../td_gate.ts";
import { tdxLimitN } from "../td_limits.ts";

export const tdhMngVpflushdone: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  const busy = ctx.lock(lockKey.kot(), "exclusive", "KOT");
  if (busy) return busy;
  if (td.lifecycle !== "TD_KEYS_CONFIGURED" && td.lifecycle !== "TD_HKID_ASSIGNED") {
    return ctx.status("TDX_LIFECYCLE_STATE_INCORRECT");
  }
  // Associated vCPUs are counted only once the TDCS exists and the TD was initialised.
  const tdcsReady = td.tdcx.length >= tdxLimitN(ctx.spec, "MIN_NUM_TDCS_PAGES");
  if (tdcsReady && td.opState !== "OP_STATE_UNINITIALIZED" && td.vcpusAssociated.size > 0) {
    return ctx.status("TDX_FLUSHVP_NOT_DONE");
  }
  ctx.state.kotWbinvdPending.set(td.hkid, new Set(ctx.state.platform.packagesKeyConfigured));
  td.lifecycle = "TD_BLOCKED";
  ctx.state.kot.set(td.hkid, "HKID_FLUSHED");
  return ctx.ok();
};
