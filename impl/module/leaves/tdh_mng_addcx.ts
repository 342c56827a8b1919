// TDH.MNG.ADDCX: adds one TDCS page to a TD whose keys are configured, before
// TDH.MNG.INIT. The sixth page completes the minimum TDCS (the TD's migration key is
// drawn then); from the seventh on, the operation state in the TDCS is checked.
import type { LeafHandler } from "../leaf_context.ts";
import { checkAndLockHpa } from "../hpa_checks.ts";
import { checkTdr, opStateAllows } from "../td_gate.ts";
import { tdxLimitN } from "../td_limits.ts";
import { randomBytes } from "../td_random.ts";
import { PAGE_SIZE } from "../../cpu/physical_memory.ts";

export const tdhMngAddcx: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  if (td.fatal) return ctx.status("TDX_TD_FATAL");
  if (td.lifecycle !== "TD_KEYS_CONFIGURED") return ctx.status("TDX_TD_KEYS_NOT_CONFIGURED");
  const index = td.tdcx.length;
  if (index >= tdxLimitN(ctx.spec, "MAX_NUM_TDCS_PAGES")) {
    return ctx.status("TDX_TDCX_NUM_INCORRECT");
  }
  const pa = ctx.in("tdcx_pa");
  const page = checkAndLockHpa(ctx, pa, ctx.operandOf("tdcx_pa"), {
    expectedType: "PT_NDA",
    lock: "exclusive",
  });
  if (page.fail) return page.fail;

  const min = tdxLimitN(ctx.spec, "MIN_NUM_TDCS_PAGES");
  if (index + 1 === min) {
    if (!randomBytes(ctx.cpu, 32)) return ctx.status("TDX_RND_NO_ENTROPY");
  } else if (index + 1 > min && !opStateAllows(ctx, ctx.leaf.name, td.opState)) {
    return ctx.status("TDX_OP_STATE_INCORRECT");
  }

  // The MSR-bitmap page starts all ones (every MSR exits); the others start zero (the
  // Secure EPT entries themselves are kept by the SEPT model, not in these bytes).
  const mem = ctx.cpu.memory;
  const target = mem.withKeyId(pa, td.hkid);
  if (index === tdxLimitN(ctx.spec, "MSR_BITMAPS_PAGE_INDEX")) {
    mem.write(target, new Uint8Array(PAGE_SIZE).fill(0xFF));
  } else {
    mem.zeroPage(target);
  }
  td.tdcx.push(pa);
  td.childCount = (td.childCount ?? 0) + 1;
  ctx.state.pamt.set(pa, { pageType: "PT_TDCX", owner: td.tdr, level: 0 });
  return ctx.ok();
};
