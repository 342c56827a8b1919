// summary.md: the run in a few tables, for people and CI job summaries.
import type { Report } from "./report_model.ts";

/** A value as JSON, shortened for a one-line summary (report.json keeps it whole). */
export function brief(v: unknown, max = 120): string {
  const text = JSON.stringify(v) ?? "undefined";
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}

export function renderSummary(report: Report): string {
  const c = report.summary.counts;
  const out: string[] = [];
  out.push(`# Conformance: ${report.implementation.name} ${report.implementation.version}`, "");
  out.push(
    report.summary.ok
      ? "**Result: conformant on every vector that ran.**"
      : "**Result: differences found.**",
    "",
  );
  out.push(
    "| pass | fail | expected fail | unexpected pass | skipped | errored |",
    "| --- | --- | --- | --- | --- | --- |",
  );
  out.push(`| ${c.pass} | ${c.fail} | ${c.xfail} | ${c.xpass} | ${c.skip} | ${c.error} |`, "");
  out.push(
    `Suite ${report.suite.name} ${report.suite.version}, spec ${report.suite.spec_hash}, ${report.suite.vector_count} vectors; ` +
      `run ${report.run.started} on ${report.run.host.os}/${report.run.host.arch}, Deno ${report.run.host.deno}.`,
    "",
  );
  const layers = [...new Set(report.results.map((r) => r.layer))].sort();
  out.push("| layer | pass | fail | skip | error |", "| --- | --- | --- | --- | --- |");
  for (const l of layers) {
    const rs = report.results.filter((r) => r.layer === l);
    const n = (o: string[]) => rs.filter((r) => o.includes(r.outcome)).length;
    out.push(
      `| ${l} | ${n(["pass", "xfail"])} | ${n(["fail", "xpass"])} | ${n(["skip"])} | ${
        n(["error"])
      } |`,
    );
  }
  const bad = report.results.filter((r) => ["fail", "xpass", "error"].includes(r.outcome));
  if (bad.length) {
    out.push("", "## Differences", "");
    for (const r of bad.slice(0, 200)) {
      if (r.outcome === "fail") {
        const d = r.difference!;
        out.push(
          `- \`${r.id}\` step ${r.step} (${r.op}): \`${d.path}\` expected \`${
            brief(d.expected)
          }\`, got \`${brief(d.actual)}\``,
        );
      } else if (r.outcome === "xpass") {
        out.push(
          `- \`${r.id}\`: passed but is listed as expected to fail (${r.expectFailReason ?? ""})`,
        );
      } else out.push(`- \`${r.id}\`: errored: ${r.message ?? ""}`);
    }
    if (bad.length > 200) out.push(`- ... and ${bad.length - 200} more (see report.json)`);
  }
  if (report.run.protocol_violations?.length) {
    out.push(
      "",
      "## Adapter protocol violations",
      "",
      ...report.run.protocol_violations.slice(0, 50).map((v) => `- ${v}`),
    );
  }
  return out.join("\n") + "\n";
}
