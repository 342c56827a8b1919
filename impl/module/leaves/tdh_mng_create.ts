// TDH.MNG.CREATE: turns a free page into the TDR of a new TD bound to a free private
// HKID. Checks in the module's order: HKID (RDX), the page (RCX), the KOT lock, the
// KOT entry, then the TD_UUID's entropy.
import type { LeafHandler } from "../leaf_context.ts";
import { checkAndLockHpa } from "../hpa_checks.ts";
import { lockKey } from "../locks.ts";
import { randomBytes } from "../td_random.ts";

export const tdhMngCreate: LeafHandler = (ctx) => {
  const { hkid: hkidField } = ctx.inFields("hkid");
  const reserved = ctx.in("hkid") >> 16n;
  const hkid = Number(hkidField);
  if (reserved !== 0n || !ctx.cpu.isPrivateKeyId(hkid)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("hkid"));
  }
  const tdr = ctx.in("tdr_pa");
  const page = checkAndLockHpa(ctx, tdr, ctx.operandOf("tdr_pa"), {
    expectedType: "PT_NDA",
    lock: "exclusive",
  });
  if (page.fail) return page.fail;
  const busy = ctx.lock(lockKey.kot(), "exclusive", "KOT");
  if (busy) return busy;
  if ((ctx.state.kot.get(hkid) ?? "HKID_FREE") !== "HKID_FREE") {
    return ctx.status("TDX_HKID_NOT_FREE");
  }
  // The TDR is cleared with the module's own KeyID before the UUID is drawn.
  const mem = ctx.cpu.memory;
  mem.zeroPage(mem.withKeyId(tdr, ctx.state.platform.globalHkid ?? 0));
  const uuid = randomBytes(ctx.cpu, 32);
  if (!uuid) return ctx.status("TDX_RND_NO_ENTROPY");

  ctx.state.kot.set(hkid, "HKID_ASSIGNED");
  const td = ctx.state.newTd(tdr, hkid);
  td.uuid = uuid;
  td.fatal = false;
  td.childCount = 0;
  td.numVcpus = 0;
  // The TD's SEAM database entry: the one TDH.SYS.INIT sampled (TDG.MR.REPORT names it).
  td.seamdb = ctx.state.platform.sampled?.seamdb;
  ctx.state.pamt.set(tdr, { pageType: "PT_TDR", owner: 0n, level: 0 });
  return ctx.ok();
};
