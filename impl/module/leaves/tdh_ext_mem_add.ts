// TDH.EXT.MEM.ADD (2026 extensions, provisional): takes up to 512 host pages, listed in
// an HPA-list page, into the extensions' memory pool. Each listed page is checked like
// an explicit private page and becomes module-owned (PT_RSVD in the model). A pending
// host interrupt stops it between pages; RCX then says where to resume.
import type { LeafHandler } from "../leaf_context.ts";
import { checkAndLockHpa } from "../hpa_checks.ts";
import { sharedBufferInvalid } from "../platform_helpers.ts";
import { extensionsSupported } from "../extensions.ts";

export const tdhExtMemAdd: LeafHandler = (ctx) => {
  if (!extensionsSupported(ctx.state)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("leaf_and_version"));
  }
  const rcx = ctx.operandOf("hpa_list_info");
  const info = ctx.inFields("hpa_list_info");
  const listPa = info.HPA_LIST_PFN << 12n;
  if (
    info.RESERVED_0 !== 0n || info.RESERVED_1 !== 0n || info.FIRST_ENTRY > info.LAST_ENTRY ||
    sharedBufferInvalid(ctx, listPa, 4096n, 4096n)
  ) {
    return ctx.status("TDX_OPERAND_INVALID", rcx);
  }
  const list = new DataView(ctx.cpu.memory.read(listPa, 4096).buffer);
  const pool = ctx.state.platform.extensions.memory;
  for (let i = Number(info.FIRST_ENTRY); i <= Number(info.LAST_ENTRY); i++) {
    const pa = list.getBigUint64(8 * i, true);
    const r = checkAndLockHpa(ctx, pa, rcx, { expectedType: "PT_NDA", lock: "exclusive" });
    if (r.fail) return r.fail;
    ctx.state.pamt.set(pa, { pageType: "PT_RSVD", level: 0 });
    pool.push(pa);
    if (i < Number(info.LAST_ENTRY) && ctx.cpu.hostInterruptPending(ctx.lp.id)) {
      ctx.outFields("hpa_list_info", { ...info, FIRST_ENTRY: BigInt(i + 1) });
      return ctx.status("TDX_INTERRUPTED_RESUMABLE");
    }
  }
  return ctx.ok();
};
