import assert from "node:assert/strict";
import { parseEcdsaQuote } from "./quote_parse.ts";
import { quoteFile, SGX_QUOTES, TD_QUOTES } from "./fixtures_table.ts";
import { bytesToHex } from "../../spec/hex.ts";

Deno.test("every real TD quote parses with the spec's structs", () => {
  for (const name of TD_QUOTES) {
    const bytes = Deno.readFileSync(quoteFile(name));
    const q = parseEcdsaQuote(bytes);
    assert.ok(q.ok, name);
    const v = q.value;
    assert.equal(v.bodyStruct, v.version === 4 ? "TD_QUOTE_BODY_1_0" : "TD_QUOTE_BODY_1_5", name);
    assert.equal(v.quoteSize + v.trailingBytes, bytes.length);
    assert.equal(v.qeAuthData.length, 32);
    assert.match(new TextDecoder().decode(v.pckChainPem), /^-----BEGIN CERTIFICATE-----/);
  }
});

Deno.test("trailing bytes: zero padding and go-tdx-guest's text trailer are tolerated", () => {
  const pad = parseEcdsaQuote(Deno.readFileSync(quoteFile("dcapqvl_tdx_quote.dat")));
  assert.ok(pad.ok);
  assert.deepEqual([pad.value.quoteSize, pad.value.trailingBytes, pad.value.trailingAllZero], [
    4936,
    70,
    true,
  ]);
  const bytes = Deno.readFileSync(quoteFile("gotdx_tdx_prod_quote_SPR_E4.dat"));
  const spr = parseEcdsaQuote(bytes);
  assert.ok(spr.ok);
  assert.equal(spr.value.trailingAllZero, false);
  assert.equal(
    new TextDecoder().decode(bytes.subarray(spr.value.quoteSize)),
    "\nextra bytes(only for testing purpose)\n",
  );
});

Deno.test("MRTD and REPORTDATA come out where PROVENANCE.md says", () => {
  const want: Record<string, [string, string]> = {
    "dcapqvl_tdx_quote.dat": ["91eb2b44d141d4ec", "9a9d48e7f6799642"],
    "gotdx_quote_v5_sample.dat": ["7348651a34b2d2d3", "945eaacf5abc1f71"],
    "trustee_tdx_quote_5.dat": ["dfba221b48a22af8", "6d6ab13b046cff60"],
  };
  for (const [name, [mrtd, rd]] of Object.entries(want)) {
    const q = parseEcdsaQuote(Deno.readFileSync(quoteFile(name)));
    assert.ok(q.ok);
    assert.equal(bytesToHex(q.value.body.mr_td as Uint8Array).slice(0, 16), mrtd);
    assert.equal(bytesToHex(q.value.body.report_data as Uint8Array).slice(0, 16), rd);
  }
});

Deno.test("SGX quotes, unknown versions and bad sizes are structured reasons", () => {
  for (const name of SGX_QUOTES) {
    const q = parseEcdsaQuote(Deno.readFileSync(quoteFile(name)));
    assert.ok(!q.ok);
    assert.equal(q.reasons[0].check, "format");
  }
  const good = Deno.readFileSync(quoteFile("dcapqvl_tdx_quote.dat"));
  const v6 = good.slice();
  v6[0] = 6;
  let q = parseEcdsaQuote(v6);
  assert.ok(!q.ok && q.reasons[0].field === "header.version");
  const bigSig = good.slice();
  new DataView(bigSig.buffer).setUint32(632, 0xffffffff, true);
  q = parseEcdsaQuote(bigSig);
  assert.ok(!q.ok && q.reasons[0].check === "parse");
  const v5 = Deno.readFileSync(quoteFile("gotdx_quote_v5_sample.dat")).slice();
  v5[48] = 1; // body type 1: an SGX enclave report
  q = parseEcdsaQuote(v5);
  assert.ok(!q.ok && q.reasons[0].field === "body_type");
  assert.match(q.reasons[0].message, /not a TD quote/);
  v5[48] = 9;
  q = parseEcdsaQuote(v5);
  assert.ok(!q.ok && /unsupported quote body type/.test(q.reasons[0].message));
});
