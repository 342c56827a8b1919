// decodeQuote reads every real TD quote in fixtures/realdata, refuses the SGX ones as
// not TDX, and never throws on truncated or mutated input.
import { strict as assert } from "node:assert";
import { theSpec } from "../../spec/mod.ts";
import { SampleRng } from "../../spec/sample_values.ts";
import { decodeQuote } from "./quote_decode.ts";

const spec = theSpec();
const dir = new URL("../../../fixtures/realdata/quotes/", import.meta.url);
const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /\.(dat|bin)$/.test(n))
  .sort();

Deno.test("real quotes decode; SGX quotes are not TDX", async (t) => {
  for (const file of files) {
    await t.step(file, () => {
      const r = decodeQuote(spec, Deno.readFileSync(new URL(file, dir)));
      if (file.includes("sgx")) {
        assert.ok(!r.ok);
        assert.equal(r.error.kind, "not-tdx");
        return;
      }
      assert.ok(r.ok, r.ok ? "" : r.error.message);
      assert.match(r.value.pckChainPem!, /^-----BEGIN CERTIFICATE-----/);
      assert.equal(r.value.attestationKey.length, 64);
      assert.equal(r.value.qeReport!.authData.length, 32);
    });
  }
});

Deno.test("truncated and mutated quotes give errors, never exceptions", () => {
  const rng = new SampleRng(99);
  const q = Deno.readFileSync(new URL("gotdx_quote_v5_sample.dat", dir));
  for (let n = 0; n < q.length; n += 37) {
    const r = decodeQuote(spec, q.subarray(0, n));
    assert.ok(!r.ok);
    assert.ok(["truncated", "invalid", "unsupported", "not-tdx"].includes(r.error.kind));
  }
  for (let i = 0; i < 300; i++) {
    const b = q.slice();
    for (let j = 1 + rng.below(4); j > 0; j--) b[rng.below(700)] = rng.below(256);
    decodeQuote(spec, b);
  }
});
