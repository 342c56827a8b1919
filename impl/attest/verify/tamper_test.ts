// Every single-bit change in a signed region of a real quote (header and body, the QE
// report, the attestation key) and every truncation must be rejected.
import assert from "node:assert/strict";
import { intelSgxRoot, type VerifyOptions, verifyQuote } from "./mod.ts";
import { PCK_VALID_AT, quoteFile } from "./fixtures_table.ts";
import { parseEcdsaQuote } from "./quote_parse.ts";

const root = await intelSgxRoot();

async function rejectsEveryBitFlip(name: string, regions: [string, number, number][]) {
  const quote = Deno.readFileSync(quoteFile(name));
  const opts: VerifyOptions = {
    root,
    at: new Date(PCK_VALID_AT[name]),
    allowDebug: true,
    expect: [],
  };
  assert.ok((await verifyQuote(quote, opts)).ok, name);
  const copy = quote.slice();
  for (const [region, start, end] of regions) {
    for (let byte = start; byte < end; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        copy[byte] ^= 1 << bit;
        const v = await verifyQuote(copy, opts);
        copy[byte] ^= 1 << bit;
        assert.equal(
          v.ok,
          false,
          `${name}: flipping bit ${bit} of byte ${byte} (${region}) was accepted`,
        );
        assert.ok(v.reasons.length > 0);
      }
    }
  }
}

/** The signed regions of a real quote: [name, start, end) file offsets. */
function regions(name: string): [string, number, number][] {
  const bytes = Deno.readFileSync(quoteFile(name));
  const q = parseEcdsaQuote(bytes);
  assert.ok(q.ok);
  const v = q.value;
  const key = findSub(bytes, v.attestationKey);
  const qe = findSub(bytes, v.qeReportBytes);
  assert.ok(key > 0 && qe > key);
  return [
    ["header and body", 0, v.signedBytes.length],
    ["attestation key", key, key + v.attestationKey.length],
    ["QE report", qe, qe + v.qeReportBytes.length],
  ];
}

function findSub(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("every bit flip in header, body, QE report and attestation key of a v4 quote is rejected", async () => {
  await rejectsEveryBitFlip("dcapqvl_tdx_quote.dat", regions("dcapqvl_tdx_quote.dat"));
});

Deno.test("every bit flip in the header and TDX 1.5 body of a v5 quote is rejected", async () => {
  // The QE report and key sit in the same signature data as in v4, covered above.
  await rejectsEveryBitFlip(
    "gotdx_quote_v5_sample.dat",
    regions("gotdx_quote_v5_sample.dat").slice(0, 1),
  );
});

Deno.test("every truncation of a real quote is rejected", async () => {
  for (const name of ["dcapqvl_tdx_quote.dat", "gotdx_quote_v5_sample.dat"]) {
    const quote = Deno.readFileSync(quoteFile(name));
    const q = parseEcdsaQuote(quote);
    assert.ok(q.ok);
    const opts: VerifyOptions = {
      root,
      at: new Date(PCK_VALID_AT[name]),
      allowDebug: false,
      expect: [],
    };
    for (let len = 0; len < q.value.quoteSize; len++) {
      const v = await verifyQuote(quote.subarray(0, len), opts);
      assert.equal(v.ok, false, `${name} cut to ${len} bytes was accepted`);
      assert.ok(v.reasons.length > 0);
    }
    // Padding after the quote is tolerated.
    assert.ok((await verifyQuote(quote.subarray(0, q.value.quoteSize), opts)).ok);
  }
});
