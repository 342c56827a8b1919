import assert from "node:assert/strict";
import { main } from "./verify_cli.ts";

const R = "fixtures/realdata/";
const Q = `${R}quotes/`;
const C = `${R}collateral/`;

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, (s) => out.push(String(s)), (s) => err.push(String(s)));
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test("verify: a real quote with its collateral prints the table and exits 0", async () => {
  const r = await run(
    `${Q}dcapqvl_tdx_quote.dat`,
    "--collateral",
    `${C}dcapqvl_tdx_quote_collateral.json`,
    "--at",
    "2025-06-20T00:00:00Z",
  );
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /VERIFIED \(TCB status UpToDate\)/);
  assert.match(r.out, /mr_td +91eb2b44d141d4ec/);
  assert.match(r.out, /PASS {2}quote_signature/);
});

Deno.test("verify --json: one JSON document with decoded fields, checks and TCB", async () => {
  const r = await run(
    `${Q}trustee_tdx_quote_6.dat`,
    "--json",
    "--collateral",
    `${C}trustee_tcbInfo.json`,
    "--collateral",
    `${C}trustee_enclaveIdentity.json`,
    "--collateral",
    `${R}certs/derived_intel_sgx_tcb_signing.pem`,
    "--at",
    "2025-11-01",
  );
  assert.equal(r.code, 0, r.out);
  const doc = JSON.parse(r.out);
  assert.equal(doc.ok, true);
  assert.equal(doc.tcb.status, "OutOfDate");
  assert.equal(doc.decoded.pck.fmspc, "00a06d080000");
  assert.equal(doc.decoded.header.version, 4);
  assert.ok(doc.checks.every((c: { status: string }) => c.status !== "fail"));
});

Deno.test("verify: a hex-text quote file is read as bytes", async () => {
  const r = await run(`${Q}dcapqvl_tdx-quote.hex`, "--at", "2025-06-20", "--json");
  assert.equal(r.code, 0, r.out);
  assert.equal(JSON.parse(r.out).decoded.quote.quote_size, 4936);
});

Deno.test("verify: failures exit 1 with structured reasons", async () => {
  let r = await run(`${Q}dcapqvl_sgx_quote.dat`, "--json");
  assert.equal(r.code, 1);
  assert.equal(JSON.parse(r.out).reasons[0].check, "format");
  r = await run(`${Q}trustee_tdx_quote_4.dat`, "--at", "2023-06-20");
  assert.equal(r.code, 1);
  assert.match(r.out, /debug: the TD is a debug TD/);
  r = await run(`${Q}trustee_tdx_quote_4.dat`, "--at", "2023-06-20", "--allow-debug");
  assert.equal(r.code, 0, r.out);
  r = await run(`${Q}dcapqvl_tdx_quote.dat`, "--at", "2025-06-20", "--expect", "mrtd=00,rtmr3=00");
  assert.equal(r.code, 1);
  assert.match(r.out, /expect: mr_td differs \[body.mr_td\]/);
  r = await run("fixtures/realdata/eventlogs/gotdx_cos113_nonce.dat", "--json");
  assert.equal(r.code, 1);
  assert.equal(JSON.parse(r.out).reasons[0].message, "unsupported quote format");
});

Deno.test("verify: bad usage and unreadable input exit 2 naming the problem", async () => {
  const cases: [string[], RegExp][] = [
    [[], /exactly one QUOTE/],
    [["a", "b"], /exactly one QUOTE/],
    [["--bogus", "x"], /bogus/],
    [[`${Q}nope.dat`], /quote .*nope\.dat: cannot read/],
    [[`${Q}dcapqvl_tdx_quote.dat`, "--at", "yesterday"], /--at: "yesterday"/],
    [[`${Q}dcapqvl_tdx_quote.dat`, "--expect", "mrtd"], /--expect: "mrtd" is not KEY=VALUE/],
    [[`${Q}dcapqvl_tdx_quote.dat`, "--expect", "colour=1"], /unknown field "colour"/],
    [
      [`${Q}dcapqvl_tdx_quote.dat`, "--collateral", `${Q}dcapqvl_tdx-quote.hex`],
      /--collateral .*hex: not JSON, PEM/,
    ],
    [
      [`${Q}dcapqvl_tdx_quote.dat`, "--root", `${C}gotdx_rootcrl.der`],
      /--root .*not a DER X.509 certificate/,
    ],
    [
      [`${Q}dcapqvl_tdx_quote.dat`, "--root", `${Q}dcapqvl_tdx_quote.dat`],
      /--root .*not a DER X.509 certificate/,
    ],
  ];
  for (const [args, want] of cases) {
    const r = await run(...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.err, want, args.join(" "));
  }
  assert.equal((await run("--help")).code, 0);
});

Deno.test("deno task verify runs with its declared permissions", async () => {
  const p = await new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "--quiet",
      "verify",
      `${Q}gotdx_quote_v5_sample.dat`,
      "--at",
      "2026-02-20",
      "--collateral",
      `${C}dcapqvl_tdx_quote_outdated_collateral.json`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(p.stdout);
  assert.equal(p.code, 0, out + new TextDecoder().decode(p.stderr));
  assert.match(out, /VERIFIED \(TCB status UpToDate\)/);
});
