// TDG.MR.REPORT: builds the TD's TDREPORT_STRUCT over 64 bytes of REPORTDATA and writes
// it to a 1024-byte aligned guest buffer (private or shared). The CPU's SEAMOPS
// SEAMDB_REPORT makes the REPORTMACSTRUCT for the TD's SEAM database entry; its MAC and
// TCB parts are modelled by impl/module/report.ts, its entry check by impl/cpu/seamdb.ts.
import type { LeafContext, LeafHandler } from "../leaf_context.ts";
import { lockRtmrGuest } from "../rtmr_lock.ts";
import { aboveGpaw, currentGuest, mapGuest, noCompletion, readGuest } from "../guest_access.ts";
import { catalog, elementValue } from "../metadata.ts";
import { buildTdReport } from "../report.ts";

/** The VMX exit reason of value 0: what an exit "with an empty reason" reports. */
function emptyExitReason(ctx: LeafContext): string {
  return ctx.spec.enum("VMX_EXIT_REASON").values.find((v) => BigInt(v.value) === 0n)!.name;
}

export const tdgMrReport: LeafHandler = (ctx) => {
  const g = currentGuest(ctx);
  const reportGpa = ctx.in("tdreport_gpa");
  const dataGpa = ctx.in("reportdata_gpa");
  const report = ctx.spec.tdcall("TDG.MR.REPORT").memory_operands!;
  const op = (name: string) => report.find((m) => m.name === name)!;
  if (reportGpa % BigInt(op("tdreport").alignment) !== 0n) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("tdreport_gpa"));
  }
  if (dataGpa % BigInt(op("reportdata").alignment) !== 0n) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("reportdata_gpa"));
  }
  if (aboveGpaw(ctx, g.td, dataGpa)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("reportdata_gpa"));
  }
  const data = readGuest(ctx, g, dataGpa, op("reportdata").size);
  if (!data.ok) return data.done;
  const subtype = ctx.in("subtype");
  if (subtype !== 0n) return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("subtype"));
  const busy = lockRtmrGuest(ctx, g.td, "shared");
  if (busy) return busy;
  // TDINFO is built; a pending interrupt makes the guest run the TDCALL again later.
  if (g.vcpu.guestInterruptPending) return noCompletion(ctx);
  // SEAMDB_REPORT for the TD's SEAM database entry: one the CPU does not hold means the
  // TDR is corrupt, and the TD leaves with a non-recoverable exit (empty exit reason).
  if (ctx.cpu.seamdb.report(g.td.seamdb ?? { index: 0n, nonce: 0n }) !== "SEAMOPS_SUCCESS") {
    g.vcpu.pendingExit = {
      kind: "async",
      status: "TDX_NON_RECOVERABLE_TD_CORRUPTED_MD",
      reason: emptyExitReason(ctx),
    };
    ctx.cpu.requestTdExit(ctx.lp);
    return noCompletion(ctx);
  }
  const servtdNum = elementValue(
    { spec: ctx.spec, cpu: ctx.cpu, state: ctx.state, td: g.td },
    catalog(ctx.spec).find("td", catalog(ctx.spec).field("td", "SERVTD_NUM").baseId)!,
  );
  const bytes = buildTdReport(ctx.spec, ctx.state, g.td, data.bytes, {
    subtype,
    servtdNum: typeof servtdNum === "bigint" ? servtdNum : 0n,
  });
  if (aboveGpaw(ctx, g.td, reportGpa)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("tdreport_gpa"));
  }
  const out = mapGuest(ctx, g, reportGpa);
  if (!out.ok) return out.done;
  ctx.cpu.memory.write(out.pa, bytes);
  return ctx.ok();
};
