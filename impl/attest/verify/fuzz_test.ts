// The verifier must answer every byte string with a verification result: random bytes,
// random lengths, real quotes with random bytes overwritten or cut, and random header
// values never make it throw.
import assert from "node:assert/strict";
import { intelSgxRoot, type QuoteVerification, type VerifyOptions, verifyQuote } from "./mod.ts";
import { addCollateralFile, emptyCollateral } from "./collateral.ts";
import { collateralFile, PCK_VALID_AT, quoteFile } from "./fixtures_table.ts";

const root = await intelSgxRoot();

/** A small deterministic PRNG (xorshift32) so failures reproduce. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function wellFormed(v: QuoteVerification, what: string) {
  assert.equal(typeof v.ok, "boolean", what);
  assert.ok(Array.isArray(v.reasons) && Array.isArray(v.checks), what);
  for (const r of v.reasons) {
    assert.equal(typeof r.check, "string", what);
    assert.equal(typeof r.message, "string", what);
    assert.ok(!/internal error/.test(r.message), `${what}: ${r.message}`);
  }
  if (!v.ok) assert.ok(v.reasons.length > 0, what);
  JSON.stringify(v); // printable
}

Deno.test("random byte strings never make the verifier throw", async () => {
  const next = rng(0x5eed);
  const opts: VerifyOptions = {
    root,
    at: new Date("2025-06-20T00:00:00Z"),
    allowDebug: false,
    expect: [],
  };
  for (let i = 0; i < 400; i++) {
    const len = i < 50 ? i : next() % 6000;
    const b = new Uint8Array(len);
    for (let j = 0; j < len; j++) b[j] = next() & 0xff;
    // Half of them start like a v4/v5 TD quote header so parsing goes deeper.
    if (i % 2 && len >= 8) {
      b[0] = 4 + (i % 4 === 1 ? 1 : 0);
      b[1] = 0;
      b[2] = 2;
      b[3] = 0;
      b.set([0x81, 0, 0, 0], 4);
    }
    const v = await verifyQuote(b, opts);
    assert.equal(v.ok, false);
    wellFormed(v, `random input ${i}`);
  }
});

Deno.test("real quotes with random bytes overwritten or cut never make the verifier throw", async () => {
  const next = rng(0xc0ffee);
  const col = emptyCollateral();
  addCollateralFile(
    col,
    "c",
    Deno.readFileSync(collateralFile("dcapqvl_tdx_quote_collateral.json")),
  );
  for (
    const name of [
      "dcapqvl_tdx_quote.dat",
      "gotdx_quote_v5_sample.dat",
      "gotdx_tdx_prod_quote_SPR_E4.dat",
    ]
  ) {
    const quote = Deno.readFileSync(quoteFile(name));
    const opts: VerifyOptions = {
      root,
      collateral: col,
      at: new Date(PCK_VALID_AT[name]),
      allowDebug: false,
      expect: [{ key: "mrtd", value: "00" }],
    };
    for (let i = 0; i < 150; i++) {
      const b = quote.slice(0, next() % 3 === 0 ? next() % quote.length : quote.length);
      const n = 1 + (next() % 8);
      for (let k = 0; k < n && b.length; k++) b[next() % b.length] = next() & 0xff;
      // Sometimes aim at the size fields that steer parsing.
      if (i % 5 === 0 && b.length > 640) {
        const view = new DataView(b.buffer);
        view.setUint32(b[0] === 5 ? 50 : 632, next(), true);
      }
      wellFormed(await verifyQuote(b, opts), `${name} mutation ${i}`);
    }
  }
});
