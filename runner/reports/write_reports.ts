// Writes the four reports into a directory, each atomically (temp file + rename), so
// a reader never sees a half-written report.
import type { Report } from "./report_model.ts";
import { renderJunit } from "./junit.ts";
import { renderSummary } from "./summary_md.ts";
import { renderHtml } from "./html.ts";

export function writeReports(dir: string, report: Report): string[] {
  return writeFiles(dir, [
    ["report.json", JSON.stringify(report, null, 2) + "\n"],
    ["junit.xml", renderJunit(report)],
    ["summary.md", renderSummary(report)],
    ["index.html", renderHtml(report)],
  ]);
}

/** Writes `files` (name, text) into `dir`, each atomically; returns their paths. */
export function writeFiles(dir: string, files: [string, string][]): string[] {
  Deno.mkdirSync(dir, { recursive: true });
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
