// `deno task verify` on DICE quotes: a quote written by `deno task dice-quote` verifies with
// --root TEST_DICE_ROOT.pem (and --expect on its TD fields), fails against the default
// DCP DICE Global Root CA, and a damaged one fails with a parse reason.
import assert from "node:assert/strict";
import { main as verify } from "./verify_cli.ts";
import { main as diceQuote } from "./dice_quote_cli.ts";

async function run(
  main: typeof verify,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, (s) => out.push(String(s)), (s) => err.push(String(s)));
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const dir = await Deno.makeTempDir({ prefix: "dice_cli_" });
const quote = `${dir}/quote.cbor`;
const root = `${dir}/test_dice_root.pem`;

Deno.test("dice-quote writes a quote that `verify --root TEST_DICE_ROOT.pem` verifies", async () => {
  const w = await run(diceQuote, quote, "--root-out", root);
  assert.equal(w.code, 0, w.err);
  const v = await run(verify, quote, "--root", root, "--at", "2030-01-01");
  assert.equal(v.code, 0, v.out + v.err);
  assert.match(v.out, /format {2}DICE quote, CBOR COSE_Sign1 signed with ES384/);
  assert.match(v.out, /PASS {2}dice_chain/);
  assert.match(v.out, /^VERIFIED$/m);
  const j = await run(verify, quote, "--root", root, "--at", "2030-01-01", "--json");
  const doc = JSON.parse(j.out);
  assert.equal(doc.format, "dice-es384-quote");
  const mrTd = doc.decoded.body.mr_td;
  const e = await run(
    verify,
    quote,
    "--root",
    root,
    "--at",
    "2030-01-01",
    "--expect",
    `mrtd=${mrTd}`,
  );
  assert.equal(e.code, 0, e.out);
  const bad = await run(
    verify,
    quote,
    "--root",
    root,
    "--at",
    "2030-01-01",
    "--expect",
    `mrtd=${"00".repeat(48)}`,
  );
  assert.equal(bad.code, 1);
});

Deno.test("without --root a DICE quote is checked against the DCP DICE Global Root CA", async () => {
  const v = await run(verify, quote, "--at", "2030-01-01");
  assert.equal(v.code, 1);
  assert.match(v.out, /FAIL {2}dice_chain/);
  assert.match(v.out, /DCP DICE Global Root CA/);
});

Deno.test("a truncated DICE quote fails with a parse reason; bad usage exits 2", async () => {
  const bytes = await Deno.readFile(quote);
  await Deno.writeFile(`${dir}/short.cbor`, bytes.subarray(0, 100));
  const v = await run(verify, `${dir}/short.cbor`, "--root", root);
  assert.equal(v.code, 1);
  assert.match(v.out, /FAIL {2}parse/);
  assert.equal((await run(diceQuote)).code, 2);
  const r = await run(diceQuote, `${dir}/x.cbor`, "--tdreport", `${dir}/short.cbor`);
  assert.equal(r.code, 2);
  assert.match(r.err, /--tdreport .*short\.cbor: TDREPORT_STRUCT/);
  assert.equal((await run(diceQuote, `${dir}/x.cbor`, "--tdreport", `${dir}/missing`)).code, 2);
});

Deno.test("an ECDSA quote checked against the DICE root fails its PCK chain (exit 1)", async () => {
  const v = await run(
    verify,
    "fixtures/realdata/quotes/dcapqvl_tdx_quote.dat",
    "--root",
    "impl/attest/roots/dcp_dice_global_root_ca.pem",
    "--at",
    "2025-06-20T00:00:00Z",
  );
  assert.equal(v.code, 1, v.err);
  assert.match(v.out, /FAIL {2}pck_chain/);
});
