// Writes the four reports into a directory, each atomically (temp file + rename), so
// a reader never sees a half-written report.
import type { Report } from "./report_model.ts";
import { renderJunit } from "./junit.ts";
import { renderSummary } from "./summary_md.ts";
import { renderHtml } from "./html.ts";

export function writeReports(dir: string, report: Report): string[] {
  Deno.mkdirSync(dir, { recursive: true });
  const files: [string, string][] = [
    ["report.json", JSON.stringify(report, null, 2) + "\n"],
    ["junit.xml", renderJunit(report)],
    ["summary.md", renderSummary(report)],
    ["index.html", renderHtml(report)],
  ];
  const written: string[] = [];
  for (const [name, text] of files) {
    const path = `${dir.replace(/\/$/, "")}/${name}`;
    const tmp = `${path}.tmp-${Deno.pid}`;
    Deno.writeTextFileSync(tmp, text);
    Deno.renameSync(tmp, path);
    written.push(path);
  }
  return written;
}
