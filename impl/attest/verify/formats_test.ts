import assert from "node:assert/strict";
import {
  detectQuoteFormat,
  type QuoteFormat,
  quoteFormats,
  registerQuoteFormat,
  verifyQuote,
} from "./formats.ts";
import { intelSgxRoot } from "./trust_root.ts";
import type { VerifyOptions } from "./verification.ts";

const options: VerifyOptions = {
  root: await intelSgxRoot(),
  at: new Date("2025-06-20T00:00:00Z"),
  allowDebug: false,
  expect: [],
};
// CBOR tag 61 (CWT) then tag 18 (COSE_Sign1) and a 4-element array: how a DICE quote opens.
const diceLike = new Uint8Array([0xd8, 0x3d, 0xd2, 0x84, 0x41, 0xa0]);
// Nobody's format: not a quote version, not CBOR tag 61 or 18.
const unknownLike = new Uint8Array([0xd9, 0x3d, 0xd2, 0x84, 0x41, 0xa0]);

Deno.test("an unrecognized quote is an 'unsupported quote format' reason", async () => {
  for (const bytes of [new Uint8Array(0), unknownLike, new TextEncoder().encode("hello")]) {
    const v = await verifyQuote(bytes, options);
    assert.equal(v.ok, false);
    assert.equal(v.format, undefined);
    assert.equal(v.reasons.length, 1);
    assert.equal(v.reasons[0].check, "format");
    assert.equal(v.reasons[0].message, "unsupported quote format");
  }
  assert.deepEqual(quoteFormats().map((f) => f.name), ["dice-es384-quote", "ecdsa-p256-quote"]);
});

Deno.test("a quote opening like CBOR tag 61 or 18 goes to the DICE verifier", async () => {
  assert.equal(detectQuoteFormat(diceLike)?.name, "dice-es384-quote");
  const v = await verifyQuote(diceLike, options);
  assert.equal(v.ok, false);
  assert.equal(v.format, "dice-es384-quote");
  assert.equal(v.reasons[0].check, "parse");
});

Deno.test("without a root each format uses its own default root", async () => {
  const { root: _root, ...noRoot } = options;
  const v = await verifyQuote(diceLike, noRoot);
  assert.equal(v.format, "dice-es384-quote");
  const ecdsa = await verifyQuote(new Uint8Array([4, 0, 2, 0]), noRoot);
  assert.equal(ecdsa.format, "ecdsa-p256-quote");
  assert.equal(ecdsa.reasons[0].check, "parse");
});

Deno.test("a registered format (a DICE verifier, say) receives the quotes it detects", async () => {
  const stub: QuoteFormat = {
    name: "dice-stub",
    description: "DICE quote (stub)",
    detect: (b) => b[0] === 0xd8 && b[1] === 0x3d,
    verify: (_b, _o) => Promise.resolve({ ok: true, format: "dice-stub", checks: [], reasons: [] }),
  };
  const remove = registerQuoteFormat(stub);
  try {
    assert.equal(detectQuoteFormat(diceLike)?.name, "dice-stub");
    assert.deepEqual(await verifyQuote(diceLike, options), {
      ok: true,
      format: "dice-stub",
      checks: [],
      reasons: [],
    });
  } finally {
    remove();
  }
  assert.equal(detectQuoteFormat(diceLike)?.name, "dice-es384-quote");
});

Deno.test("a format module that throws still gives a failed verification", async () => {
  const remove = registerQuoteFormat({
    name: "broken",
    description: "throws",
    detect: () => true,
    verify: () => Promise.reject(new Error("boom")),
  });
  try {
    const v = await verifyQuote(diceLike, options);
    assert.equal(v.ok, false);
    assert.match(v.reasons[0].message, /internal error in the broken verifier: boom/);
  } finally {
    remove();
  }
});
