// Printing a verification: a human-readable table, or one JSON document.
import type { QuoteVerification } from "./verification.ts";

export function renderJson(source: string, v: QuoteVerification): string {
  return JSON.stringify({ source, ...v }, null, 2) + "\n";
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

export function renderHuman(source: string, v: QuoteVerification): string {
  const lines: string[] = [];
  lines.push(`quote   ${source}`);
  lines.push(`format  ${v.formatDescription ?? v.format ?? "unrecognized"}`);
  for (const [name, fields] of Object.entries(v.decoded ?? {})) {
    lines.push("", `[${name}]`);
    const width = Math.max(...Object.keys(fields).map((k) => k.length));
    for (const [k, val] of Object.entries(fields)) lines.push(`  ${pad(k, width)}  ${val}`);
  }
  lines.push("", "[checks]");
  for (const c of v.checks) {
    lines.push(
      `  ${pad(c.status.toUpperCase(), 4)}  ${pad(c.check, 20)}${c.note ? `  (${c.note})` : ""}`
        .trimEnd(),
    );
  }
  if (v.tcb) {
    const t = v.tcb;
    lines.push("", "[tcb]");
    lines.push(`  status               ${t.status}`);
    lines.push(`  advisory_ids         ${t.advisoryIds.join(" ") || "-"}`);
    lines.push(`  fmspc                ${t.fmspc}`);
    lines.push(`  tcb_evaluation_data  ${t.tcbEvaluationDataNumber}`);
    lines.push(
      `  tdx_tcb_level        ${t.tdxLevelStatus} (${t.tdxLevelDate}); SGX level ${t.sgxLevelStatus}`,
    );
    if (t.tdxModule) lines.push(`  tdx_module           ${t.tdxModule.id} ${t.tdxModule.status}`);
    lines.push(`  qe_identity          ${t.qe.status} (ISVSVN ${t.qe.isvSvn})`);
  }
  lines.push("");
  if (v.ok) {
    lines.push(`VERIFIED${v.tcb ? ` (TCB status ${v.tcb.status})` : ""}`);
  } else {
    lines.push(`FAILED: ${v.reasons.length} reason(s)`);
    for (const r of v.reasons) {
      let s = `  - ${r.check}: ${r.message}`;
      if (r.field) s += ` [${r.field}]`;
      if (r.expected !== undefined) s += `\n      expected ${r.expected}`;
      if (r.actual !== undefined) s += `\n      actual   ${r.actual}`;
      lines.push(s);
    }
  }
  return lines.join("\n") + "\n";
}
