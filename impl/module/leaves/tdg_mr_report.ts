// TDG.MR.REPORT: builds the TD's TDREPORT_STRUCT over 64 bytes of REPORTDATA and writes
// it to a 1024-byte aligned guest buffer (private or shared).
import type { LeafHandler } from "../leaf_context.ts";
import {
  aboveGpaw,
  currentGuest,
  mapGuest,
  noCompletion,
  readGuest,
  rtmrLock,
} from "../guest_access.ts";
import { catalog, elementValue } from "../metadata.ts";
import { buildTdReport } from "../report.ts";

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
  const busy = ctx.lock(rtmrLock(g.td), "shared", "RTMR");
  if (busy) return busy;
  // TDINFO is built; a pending interrupt makes the guest run the TDCALL again later.
  if (g.vcpu.guestInterruptPending) return noCompletion(ctx);
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
