// deno task conformance: runs the golden vectors against the reference implementation
// or a third-party adapter, prints what differs and writes the reports.
import { parseArgs } from "node:util";
import { checkSpec, formatDiagnostic } from "../impl/spec/mod.ts";
import { loadVectors, selectVectors } from "./vectors_io.ts";
import { REFERENCE_IMPLEMENTATION, ReferenceExecutor } from "./reference_executor.ts";
import { outsideCapabilities, ProcessExecutor } from "./process_executor.ts";
import { AdapterError } from "./process_adapter.ts";
import { parseExpectFail } from "./expect_fail.ts";
import { runVectors, type VectorResult } from "./run.ts";
import { coverage, renderCoverage } from "./coverage.ts";
import { type Report, REPORT_SCHEMA_ID } from "./reports/report_model.ts";
import { writeFiles, writeReports } from "./reports/write_reports.ts";
import { brief } from "./reports/summary_md.ts";
import { makeProgress } from "./progress.ts";
import type { Vector, VectorExecutor } from "./vector_types.ts";

const USAGE = `usage: deno task conformance [options]
  --impl reference | --impl 'COMMAND ARGS'   implementation to test (default: reference)
  --filter GLOB          only vectors whose id matches (e.g. 'module.tdh-mng-create.*')
  --tags a,b             only vectors with one of these tags
  --expect-fail FILE     vector ids/globs expected to fail ("#" comments give the reason)
  --jobs N               parallel workers (default 1 for adapters, 1 for the reference)
  --timeout MS           per-vector adapter timeout (default 10000)
  --report-dir DIR       where to write report.json, junit.xml, summary.md, index.html (default reports/)
  --validate-protocol    check every adapter message against the protocol schema; violations are errors
  --coverage             print the spec coverage matrix and what no vector covers, write
                         the whole of it to coverage.json in the report directory, then exit
  --quiet                no progress bar and no per-failure lines`;

const SUITE_VERSION = "0.1.0";

function usage(message: string): number {
  console.error(`${message}\n${USAGE}`);
  return 2;
}

export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        impl: { type: "string", default: "reference" },
        filter: { type: "string" },
        tags: { type: "string" },
        "expect-fail": { type: "string" },
        jobs: { type: "string", default: "1" },
        timeout: { type: "string", default: "10000" },
        "report-dir": { type: "string", default: "reports" },
        "validate-protocol": { type: "boolean", default: false },
        coverage: { type: "boolean", default: false },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    return usage((e as Error).message);
  }
  const o = parsed.values;
  if (o.help) {
    console.log(USAGE);
    return 0;
  }
  const jobs = Number(o.jobs);
  const timeoutMs = Number(o.timeout);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) {
    return usage(`--jobs must be a whole number from 1 to 64, not ${o.jobs}`);
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    return usage(`--timeout must be a positive number of milliseconds, not ${o.timeout}`);
  }

  const checked = checkSpec();
  if (checked.diagnostics.length) {
    for (const d of checked.diagnostics.slice(0, 20)) console.error(formatDiagnostic(d));
    console.error("spec/ has problems: fix them first (deno task spec)");
    return 2;
  }
  const loaded = loadVectors();
  if (loaded.errors.length) {
    for (const e of loaded.errors) console.error(e);
    console.error("vectors/ has invalid files: regenerate them (deno task vectors)");
    return 2;
  }
  if (o.coverage) {
    const rows = coverage(checked.spec, loaded.vectors);
    console.log(renderCoverage(rows));
    // The whole matrix, every uncovered item listed, for tools and CI.
    const [path] = writeFiles(o["report-dir"]!, [
      ["coverage.json", JSON.stringify({ spec_hash: checked.hash, rows }, null, 2) + "\n"],
    ]);
    console.log(`\nevery uncovered item: ${path}`);
    return 0;
  }
  let expectFail: ReturnType<typeof parseExpectFail>["entries"] = [];
  if (o["expect-fail"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(o["expect-fail"]);
    } catch (e) {
      return usage(`cannot read --expect-fail ${o["expect-fail"]}: ${(e as Error).message}`);
    }
    const parsedList = parseExpectFail(text);
    if (parsedList.errors.length) {
      return usage(parsedList.errors.map((e) => `${o["expect-fail"]}: ${e}`).join("\n"));
    }
    expectFail = parsedList.entries;
  }
  const tags = o.tags ? o.tags.split(",").map((t) => t.trim()).filter(Boolean) : undefined;
  const vectors = selectVectors(loaded.vectors, o.filter, tags);
  if (vectors.length === 0) return usage("no vector matches the --filter/--tags given");

  const started = new Date();
  const isReference = o.impl === "reference";
  let implementation: Report["implementation"];
  let applicable: ((v: Vector) => string | undefined) | undefined;
  const executors: ProcessExecutor[] = [];
  let makeExecutor: () => Promise<VectorExecutor>;
  const suite = { version: SUITE_VERSION, spec_hash: checked.hash };
  if (isReference) {
    implementation = { ...REFERENCE_IMPLEMENTATION, command: "reference" };
    makeExecutor = () => Promise.resolve(new ReferenceExecutor());
  } else {
    let first: ProcessExecutor;
    try {
      first = await ProcessExecutor.start(o.impl!, {
        timeoutMs,
        validate: o["validate-protocol"]!,
        suite,
      });
    } catch (e) {
      if (e instanceof AdapterError) {
        console.error(`cannot start the adapter '${o.impl}': ${e.message}`);
        return 2;
      }
      throw e;
    }
    executors.push(first);
    implementation = {
      ...first.ready.implementation,
      command: o.impl,
      capabilities: first.ready.capabilities,
    };
    applicable = (v) => outsideCapabilities(first.ready.capabilities, v);
    let handedFirst = false;
    makeExecutor = async () => {
      if (!handedFirst) {
        handedFirst = true;
        return first;
      }
      const ex = await ProcessExecutor.start(o.impl!, {
        timeoutMs,
        validate: o["validate-protocol"]!,
        suite,
      });
      executors.push(ex);
      return ex;
    };
  }

  const interactive = !o.quiet && Deno.stderr.isTerminal() && !Deno.env.get("CI");
  const progress = makeProgress(vectors.length, interactive);
  const { results, summary } = await runVectors(vectors, makeExecutor, {
    jobs,
    expectFail,
    applicable,
    onResult: (r) => progress.tick(r.outcome),
  });
  progress.stop();

  const report: Report = {
    $schema: REPORT_SCHEMA_ID,
    suite: {
      name: "tdx-conformance",
      version: SUITE_VERSION,
      spec_hash: checked.hash,
      vector_count: vectors.length,
    },
    implementation,
    run: {
      started: started.toISOString(),
      finished: new Date().toISOString(),
      host: {
        os: Deno.build.os,
        arch: Deno.build.arch,
        deno: Deno.version.deno,
        hostname: safeHostname(),
      },
      options: {
        filter: o.filter ?? null,
        tags: tags ?? null,
        jobs,
        timeout_ms: timeoutMs,
        expect_fail: o["expect-fail"] ?? null,
        validate_protocol: o["validate-protocol"],
      },
      protocol_violations: executors.flatMap((e) => e.violations),
      adapter_restarts: executors.reduce((a, e) => a + e.restarts, 0),
    },
    summary,
    results,
  };
  const written = writeReports(o["report-dir"]!, report);
  if (!o.quiet) printFailures(results);
  const c = summary.counts;
  console.log(
    `${implementation.name} ${implementation.version}: ${c.pass} passed, ${c.fail} failed, ${c.xfail} expected failures, ` +
      `${c.xpass} unexpected passes, ${c.skip} skipped, ${c.error} errored (${vectors.length} vectors)`,
  );
  console.log(`reports: ${written.join(", ")}`);
  if (o["validate-protocol"] && report.run.protocol_violations?.length) {
    console.log(`protocol violations: ${report.run.protocol_violations.length}`);
    return 1;
  }
  return summary.ok ? 0 : 1;
}

function safeHostname(): string | undefined {
  try {
    return Deno.hostname();
  } catch {
    return undefined;
  }
}

function printFailures(results: VectorResult[]) {
  for (const r of results) {
    if (r.outcome === "fail") {
      const d = r.difference!;
      console.log(
        `FAIL ${r.id} step ${r.step} (${r.op}): ${d.path} expected ${brief(d.expected)}, got ${
          brief(d.actual)
        }`,
      );
    } else if (r.outcome === "xpass") {
      console.log(`XPASS ${r.id}: listed as expected to fail (${r.expectFailReason ?? ""})`);
    } else if (r.outcome === "error") console.log(`ERROR ${r.id}: ${r.message}`);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
