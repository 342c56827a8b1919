// The runner end to end: the reference, the Python example adapter, and each
// deliberately broken adapter, through the same CLI entry point users run.
import { strict as assert } from "node:assert";
import { main } from "./conformance.ts";
import type { Report } from "./reports/report_model.ts";

const quietly = async <T>(f: () => Promise<T>): Promise<T> => {
  const log = console.log;
  const err = console.error;
  console.log = () => {};
  console.error = () => {};
  try {
    return await f();
  } finally {
    console.log = log;
    console.error = err;
  }
};

async function run(args: string[]): Promise<{ code: number; report: Report; dir: string }> {
  const dir = Deno.makeTempDirSync({ prefix: "conformance-" });
  const code = await quietly(() => main([...args, "--quiet", "--report-dir", dir]));
  let report: Report | undefined;
  try {
    report = JSON.parse(Deno.readTextFileSync(`${dir}/report.json`));
  } catch { /* usage errors write no report */ }
  return { code, report: report!, dir };
}

const SMALL = ["--filter", "struct.tdreport_struct.*"];
const py = (f: string) => `python3 adapters/${f}`;

Deno.test("the reference passes every vector and writes the four reports", async () => {
  const { code, report, dir } = await run([]);
  assert.equal(code, 0);
  assert.ok(report.results.length > 0);
  assert.equal(report.summary.counts.pass, report.results.length);
  for (const f of ["report.json", "junit.xml", "summary.md", "index.html"]) {
    assert.ok(Deno.statSync(`${dir}/${f}`).size > 0);
  }
  assert.equal(report.implementation.name, "tdx-conformance reference");
  assert.match(report.suite.spec_hash, /^sha256:/);
});

Deno.test("the Python example adapter passes the layers it declares", async () => {
  const { code, report } = await run(["--impl", py("python-example/adapter.py"), "--jobs", "2"]);
  assert.equal(code, 0, JSON.stringify(report?.summary));
  assert.equal(report.implementation.name, "python-example");
  assert.equal(report.summary.counts.fail + report.summary.counts.error, 0);
});

Deno.test("an adapter that answers wrongly fails with the first difference", async () => {
  const { code, report } = await run(["--impl", py("broken/wrong.py"), ...SMALL]);
  assert.equal(code, 1);
  assert.equal(report.summary.counts.fail, report.results.length);
  const r = report.results.find((x) => x.id === "struct.tdreport_struct.real-intel-dcap")!;
  assert.deepEqual({
    path: r.difference!.path,
    expected: r.difference!.expected,
    actual: r.difference!.actual,
  }, {
    path: "/size",
    expected: 1024,
    actual: 0,
  });
});

for (
  const [name, why] of [["crash", /exited/], ["hang", /did not answer within 1000 ms/], [
    "garbage",
    /not a JSON object/,
  ]] as const
) {
  Deno.test(`an adapter that ${name}s is restarted and its vectors are errored`, async () => {
    const { code, report } = await run([
      "--impl",
      py(`broken/${name}.py`),
      "--timeout",
      "1000",
      ...SMALL,
    ]);
    assert.equal(code, 1);
    assert.equal(report.summary.counts.error, report.results.length);
    for (const r of report.results) assert.match(r.message!, why);
    assert.ok(report.run.adapter_restarts! >= report.results.length - 1);
  });
}

Deno.test("--validate-protocol reports messages that break the protocol schema", async () => {
  const loose = await run(["--impl", py("broken/badschema.py"), ...SMALL]);
  assert.ok(loose.report.run.protocol_violations!.length > 0);
  const strict = await run(["--impl", py("broken/badschema.py"), "--validate-protocol", ...SMALL]);
  assert.equal(strict.code, 1);
  assert.equal(strict.report.summary.counts.error, strict.report.results.length);
});

Deno.test("expected failures: xfail keeps the run green, an unexpected pass turns it red", async () => {
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(
    `${dir}/xf`,
    "struct.tdreport_struct.*  # the adapter is known to be wrong here\n",
  );
  const xfail = await run([
    "--impl",
    py("broken/wrong.py"),
    "--expect-fail",
    `${dir}/xf`,
    ...SMALL,
  ]);
  assert.equal(xfail.code, 0);
  assert.equal(xfail.report.summary.counts.xfail, xfail.report.results.length);
  const xpass = await run(["--expect-fail", `${dir}/xf`, ...SMALL]);
  assert.equal(xpass.code, 1);
  assert.equal(xpass.report.summary.counts.xpass, xpass.report.results.length);
  assert.equal(xpass.report.results[0].expectFailReason, "the adapter is known to be wrong here");
});

Deno.test("capabilities: vectors outside what an adapter declares are skipped", async () => {
  const dir = Deno.makeTempDirSync();
  const script = `${dir}/only_quote.py`;
  Deno.writeTextFileSync(
    script,
    [
      "import json, sys",
      "for line in sys.stdin:",
      "    m = json.loads(line)",
      "    if m['type'] == 'start':",
      "        print(json.dumps({'type': 'ready', 'protocol': 1, 'implementation': {'name': 'narrow', 'version': '1'},",
      "              'capabilities': {'layers': ['struct'], 'structs': ['QUOTE_V4']}}), flush=True)",
      "    elif m['type'] == 'run':",
      "        print(json.dumps({'type': 'errored', 'seq': m['seq'], 'message': 'unexpected'}), flush=True)",
      "    else: break",
    ].join("\n"),
  );
  const { code, report } = await run(["--impl", `python3 ${script}`, ...SMALL]);
  assert.equal(code, 0);
  assert.equal(report.summary.counts.skip, report.results.length);
  assert.match(report.results[0].message!, /does not declare struct TDREPORT_STRUCT/);
});

Deno.test("bad usage exits 2 with a message", async () => {
  for (
    const args of [
      ["--jobs", "0"],
      ["--timeout", "abc"],
      ["--bogus"],
      ["--filter", "no.such.vector"],
      ["--expect-fail", "/nonexistent/file"],
      ["--impl", "python3 -c 'import sys; sys.exit(1)'"],
    ]
  ) {
    const { code } = await run(args);
    assert.equal(code, 2, args.join(" "));
  }
});
