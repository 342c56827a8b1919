// The DICE verifier never throws: random bytes behind the DICE leading bytes, random
// damage to a good quote, and random CBOR shaped like a COSE_Sign1 with random claims all
// end in a failed verification with reasons. A seeded generator keeps runs repeatable.
import { strict as assert } from "node:assert";
import { theSpec } from "../../../spec/mod.ts";
import { sampleTdreport } from "../../quote/tdreport_sample.ts";
import { encodeCbor, Tagged } from "../../dice/cbor.ts";
import { diceLayout } from "../../dice/dice_layout.ts";
import { makeDiceQuoteGenerator } from "../../dice/dice_quote_generate.ts";
import { diceQuoteFormat } from "./dice_quote_format.ts";
import { parseDiceQuote } from "./dice_parse.ts";
import { diceTrustAnchorFrom } from "./dice_trust_root.ts";
import type { TrustAnchor } from "../cert_chain.ts";
import type { QuoteVerification } from "../verification.ts";

const spec = theSpec();
const L = diceLayout();
const gen = makeDiceQuoteGenerator(spec, new TextEncoder().encode("dice fuzz seed"));
const root = (await diceTrustAnchorFrom(gen.pki.root.der)) as TrustAnchor;
const good = (() => {
  const q = gen.generate(sampleTdreport(spec, 8));
  assert.ok(q.ok);
  return q.value;
})();

/** xorshift32: small, seeded, repeatable. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
  return {
    float: next,
    int: (n: number) => Math.floor(next() * n),
    bytes: (n: number) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)),
  };
}

async function check(bytes: Uint8Array, what: string, mayPass = false): Promise<QuoteVerification> {
  let v: QuoteVerification;
  try {
    v = await diceQuoteFormat.verify(bytes, {
      root,
      at: new Date("2030-01-01T00:00:00Z"),
      allowDebug: true,
      expect: [],
    });
  } catch (e) {
    throw new Error(`${what}: the verifier threw ${(e as Error).stack}`);
  }
  if (v.ok && mayPass) return v;
  assert.equal(v.ok, false, `${what} was accepted`);
  assert.ok(v.reasons.length > 0, what);
  for (const r of v.reasons) assert.equal(typeof r.message, "string");
  return v;
}

Deno.test("random bytes behind the DICE leading bytes are refused without an exception", async () => {
  const r = rng(1);
  for (let i = 0; i < 3000; i++) {
    const lead = r.int(2) ? [0xd8, 0x3d] : [0xd2, 0x84];
    const bytes = Uint8Array.from([...lead, ...r.bytes(r.int(64))]);
    await check(bytes, `random ${i}`);
  }
});

Deno.test("random damage to a good quote never throws; only unsigned changes may pass", async () => {
  const r = rng(2);
  for (let i = 0; i < 600; i++) {
    let b = good.slice();
    const edits = 1 + r.int(4);
    for (let e = 0; e < edits; e++) {
      const at = r.int(b.length);
      const kind = r.int(3);
      if (kind === 0) b[at] = r.int(256);
      else if (kind === 1) {
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1 + r.int(8))]);
      } else {b = Uint8Array.from([
          ...b.subarray(0, at),
          ...r.bytes(1 + r.int(8)),
          ...b.subarray(at),
        ]);}
    }
    // Damage to the unsigned parts may leave a valid quote (a changed kid, x5bag read as
    // x5chain); then what is signed and the signature must be the good quote's.
    const v = await check(b, `damaged ${i}`, true);
    if (v.ok) {
      const p = parseDiceQuote(b);
      const g = parseDiceQuote(good);
      assert.ok(p.ok && g.ok);
      assert.deepEqual(p.value.signedBytes, g.value.signedBytes, `damaged ${i}`);
      assert.deepEqual(p.value.signature, g.value.signature, `damaged ${i}`);
    }
  }
});

/** A random CBOR value of bounded depth, biased to the kinds the parser branches on. */
function randomValue(r: ReturnType<typeof rng>, depth: number): unknown {
  const k = r.int(depth > 4 ? 6 : 10);
  switch (k) {
    case 0:
      return r.int(2) ? r.int(1000) - 500 : -35;
    case 1:
      return r.bytes(r.int(r.int(2) ? 8 : 120));
    case 2:
      return ["0", "1", "x", L.submodule.td_quote_body.key][r.int(4)];
    case 3:
      return null;
    case 4:
      return r.float() * 10;
    case 5:
      return r.int(2) === 0;
    case 6:
      return Array.from({ length: r.int(5) }, () => randomValue(r, depth + 1));
    case 7: {
      const keys = [0, 1, 2, -82, -83, -125, -201, -212, -11, L.entry.origin, L.entry.current];
      return new Map(
        Array.from(
          { length: r.int(5) },
          () => [keys[r.int(keys.length)], randomValue(r, depth + 1)],
        ),
      );
    }
    case 8:
      return new Tagged(
        [L.tag.conciseEvidence, 111, 1, L.tag.coseSign1][r.int(4)],
        randomValue(r, depth + 1),
      );
    default:
      return encodeCbor(randomValue(r, depth + 1));
  }
}

Deno.test("random CBOR in the shape of a COSE_Sign1 is refused without an exception", async () => {
  const r = rng(3);
  const q = parseDiceQuote(good);
  assert.ok(q.ok);
  const pieces = () => [
    r.int(3) ? q.value.protectedBytes : randomValue(r, 1),
    r.int(3) ? new Map([[L.header.x5bag, q.value.certs]]) : randomValue(r, 1),
    r.int(2) ? randomValue(r, 1) : encodeCbor(
      new Map<number, unknown>([
        [L.claim.reportData, r.bytes(64)],
        [L.claim.submods, randomValue(r, 2)],
        [L.claim.eatProfile, r.int(2) ? r.bytes(r.int(12)) : "profile"],
      ]),
    ),
    r.int(3) ? q.value.signature : randomValue(r, 1),
  ];
  for (let i = 0; i < 1500; i++) {
    const arr = pieces();
    if (r.int(5) === 0) arr.push(randomValue(r, 1));
    const sign1 = new Tagged(L.tag.coseSign1, arr);
    let bytes: Uint8Array;
    try {
      bytes = encodeCbor(r.int(2) ? new Tagged(L.tag.cwt, sign1) : sign1);
    } catch {
      continue; // a value the encoder cannot write (it is not the verifier's input)
    }
    await check(bytes, `structured ${i}`);
  }
});
