// Opens index.html in headless Chromium (Debian's chromium package, which .ci/run
// installs) and checks what the page shows after its script ran.
import { strict as assert } from "node:assert";
import { renderHtml } from "./html.ts";
import { type Report, REPORT_SCHEMA_ID } from "./report_model.ts";

function findChromium(): string | undefined {
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not there */ }
  }
  return undefined;
}

const chromium = findChromium();

const report: Report = {
  $schema: REPORT_SCHEMA_ID,
  suite: {
    name: "tdx-conformance",
    version: "test",
    spec_hash: "sha256:" + "0".repeat(64),
    vector_count: 3,
  },
  implementation: { name: "demo-impl", version: "9.9" },
  run: {
    started: "2026-01-01T00:00:00.000Z",
    finished: "2026-01-01T00:00:01.000Z",
    host: { os: "linux", arch: "x86_64", deno: "2.9.6" },
    options: {},
  },
  summary: { counts: { pass: 1, fail: 1, xfail: 0, xpass: 0, skip: 0, error: 1 }, ok: false },
  results: [
    {
      id: "module.a.pass",
      title: "a",
      layer: "module",
      covers: [{ kind: "seamcall", name: "TDH.MNG.CREATE" }],
      tags: [],
      outcome: "pass",
      durationMs: 1,
    },
    {
      id: "module.b.fail",
      title: "b",
      layer: "module",
      covers: [{ kind: "seamcall", name: "TDH.MNG.INIT" }],
      tags: [],
      outcome: "fail",
      step: 2,
      op: "seamcall",
      difference: { path: "/status/name", expected: "TDX_OPERAND_INVALID", actual: "TDX_SUCCESS" },
      durationMs: 1,
    },
    {
      id: "struct.c.error",
      title: "c",
      layer: "struct",
      covers: [{ kind: "struct", name: "TD_PARAMS" }],
      tags: [],
      outcome: "error",
      message: "adapter exited",
      durationMs: 1,
    },
  ],
};

async function dumpDom(file: string, hash = ""): Promise<string> {
  const profile = Deno.makeTempDirSync({ prefix: "chromium-" });
  const out = await new Deno.Command(chromium!, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      "--dump-dom",
      `file://${file}${hash}`,
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name: "index.html shows the matrix, the failures and filters, in headless Chromium",
  ignore: !chromium,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const file = `${dir}/index.html`;
    Deno.writeTextFileSync(file, renderHtml(report));
    const dom = await dumpDom(file);
    assert.match(dom, /demo-impl 9\.9/);
    // One matrix row per (layer, spec item), classed by outcome.
    assert.match(dom, /<tr class="pass" data-item="seamcall TDH\.MNG\.CREATE">/);
    assert.match(dom, /<tr class="fail" data-item="seamcall TDH\.MNG\.INIT">/);
    assert.match(dom, /<tr class="error" data-item="struct TD_PARAMS">/);
    // The failure's first difference, and the errored vector's message.
    assert.match(dom, /data-id="module\.b\.fail"/);
    assert.match(dom, /first difference at \/status\/name/);
    assert.match(dom, /TDX_OPERAND_INVALID/);
    assert.match(dom, /adapter exited/);
    assert.match(dom, /3 of 3 vectors shown/);
    // Filtering from the address bar narrows both the matrix and the failures.
    const filtered = await dumpDom(file, "#filter=TD_PARAMS");
    assert.match(filtered, /1 of 3 vectors shown/);
    assert.doesNotMatch(filtered, /data-id="module\.b\.fail"/);
    assert.match(filtered, /data-item="struct TD_PARAMS"/);
  },
});

if (!chromium) {
  console.warn(
    "html_browser_test: no Chromium at /usr/bin/chromium: the browser test is skipped (apt-get install chromium)",
  );
}
