// deno task docs [--check]: regenerates docs/ from spec/; --check fails when docs/ is stale.
import { checkSpec, formatDiagnostic } from "../impl/spec/mod.ts";
import { renderDocs } from "./docs/pages.ts";
import { compareTree, writeTree } from "./generated_tree.ts";

const USAGE = "usage: deno task docs [--check]";

function main(args: string[]): number {
  const check = args.includes("--check");
  const unknown = args.filter((a) => a !== "--check");
  if (unknown.length) {
    console.error(`unknown argument ${unknown[0]}\n${USAGE}`);
    return 2;
  }
  const { spec, diagnostics, hash } = checkSpec();
  if (diagnostics.length) {
    for (const d of diagnostics) console.error(formatDiagnostic(d));
    console.error("docs not generated: fix spec/ first (deno task spec)");
    return 2;
  }
  const pages = renderDocs(spec, hash);
  const docsDir = new URL("../docs/", import.meta.url).pathname;
  if (check) {
    const diff = compareTree(docsDir, pages);
    if (diff.length) {
      for (const d of diff.slice(0, 20)) console.error(`docs/${d.path}: ${d.problem}`);
      if (diff.length > 20) console.error(`... and ${diff.length - 20} more`);
      console.error("docs/ is stale: run deno task docs");
      return 1;
    }
    console.log(`docs/ is up to date (${pages.size} pages)`);
    return 0;
  }
  const { written, removed } = writeTree(docsDir, pages);
  console.log(`docs/: ${pages.size} pages, ${written} written, ${removed} removed`);
  return 0;
}

Deno.exit(main(Deno.args));
