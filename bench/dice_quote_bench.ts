// DICE quote generation and verification per second (test DICE PKI, a made-up TDREPORT):
// verification warm (chain checked once, then cached) and cold (caches cleared first).
// Run: deno task bench (or deno bench -A bench/dice_quote_bench.ts).
import { theSpec } from "../impl/spec/mod.ts";
import { makeDiceQuoteGenerator } from "../impl/attest/dice/dice_quote_generate.ts";
import { sampleTdreport } from "../impl/attest/quote/tdreport_sample.ts";
import {
  clearVerificationCaches,
  trustAnchorFromBytes,
  verifyQuote,
} from "../impl/attest/verify/mod.ts";

const spec = theSpec();
const gen = makeDiceQuoteGenerator(spec, new TextEncoder().encode("dice bench"));
const report = sampleTdreport(spec, 1);
const made = gen.generate(report);
if (!made.ok) throw new Error(made.error.message);
const quote = made.value;
const root = await trustAnchorFromBytes(gen.pki.root.der);
if (typeof root === "string") throw new Error(root);
const options = { root, at: new Date("2030-01-01T00:00:00Z"), allowDebug: true, expect: [] };
if (!(await verifyQuote(quote, options)).ok) {
  throw new Error("the DICE verifier rejected the quote");
}

Deno.bench("DICE quote generation (ES384, RFC 6979)", { group: "dice" }, () => {
  gen.generate(report);
});

Deno.bench("DICE quote verification, warm", { group: "dice", baseline: true }, async () => {
  await verifyQuote(quote, options);
});

Deno.bench("DICE quote verification, cold (chain checked again)", { group: "dice" }, async () => {
  clearVerificationCaches();
  await verifyQuote(quote, options);
});
