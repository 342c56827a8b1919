// JUnit XML, one testsuite per layer, for CI systems.
import type { Report } from "./report_model.ts";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  )
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, "");
}

export function renderJunit(report: Report): string {
  const layers = [...new Set(report.results.map((r) => r.layer))].sort();
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const c = report.summary.counts;
  lines.push(
    `<testsuites name="${esc(report.suite.name)}" tests="${report.results.length}" failures="${
      c.fail + c.xpass
    }" errors="${c.error}" skipped="${c.skip + c.xfail}">`,
  );
  for (const layer of layers) {
    const rs = report.results.filter((r) => r.layer === layer);
    const n = (o: string[]) => rs.filter((r) => o.includes(r.outcome)).length;
    lines.push(
      `  <testsuite name="${esc(layer)}" tests="${rs.length}" failures="${
        n(["fail", "xpass"])
      }" errors="${n(["error"])}" skipped="${n(["skip", "xfail"])}">`,
    );
    for (const r of rs) {
      const time = (r.durationMs / 1000).toFixed(4);
      const open = `    <testcase classname="${esc(layer)}" name="${esc(r.id)}" time="${time}"`;
      if (r.outcome === "pass") lines.push(`${open}/>`);
      else {
        lines.push(`${open}>`);
        if (r.outcome === "fail") {
          const d = r.difference!;
          const msg = `step ${r.step} (${r.op}): ${d.path} expected ${
            JSON.stringify(d.expected)
          }, got ${JSON.stringify(d.actual)}`;
          lines.push(
            `      <failure message="${esc(msg)}" type="difference">${esc(msg)}</failure>`,
          );
        } else if (r.outcome === "xpass") {
          lines.push(
            `      <failure message="unexpected pass" type="xpass">listed as expected to fail: ${
              esc(r.expectFailReason ?? "")
            }</failure>`,
          );
        } else if (r.outcome === "error") {
          lines.push(`      <error message="${esc(r.message ?? "")}" type="error"/>`);
        } else {
          const why = r.outcome === "xfail"
            ? `expected failure: ${r.expectFailReason ?? ""}`
            : r.message ?? "";
          lines.push(`      <skipped message="${esc(why)}"/>`);
        }
        lines.push("    </testcase>");
      }
    }
    lines.push("  </testsuite>");
  }
  lines.push("</testsuites>");
  return lines.join("\n") + "\n";
}
