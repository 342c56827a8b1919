// The DICE verifier on generated quotes: a good quote verifies to the test root with
// --expect on its TD fields; each strict parse rule, the chain rules and the TD policy
// refuse with a structured reason; every single-bit change in the signed bytes (protected
// header, payload) and every truncation is refused; the accepted variants (x5chain, bare
// COSE_Sign1, shuffled bag, CoRIM digest tuples, Intel's integration-sample form) verify.
import { strict as assert } from "node:assert";
import { theSpec } from "../../../spec/mod.ts";
import { bytesToHex } from "../../../spec/hex.ts";
import { encodeBits } from "../../../spec/bits.ts";
import type { DecodedStruct } from "../../../spec/codec.ts";
import { sampleTdreport } from "../../quote/tdreport_sample.ts";
import { signRaw } from "../../quote/ecdsa_p256.ts";
import { deriveKey } from "../../quote/seed_keys.ts";
import { type CborValue, decodeCbor, encodeCbor, isMap, Tagged } from "../../dice/cbor.ts";
import { diceLayout } from "../../dice/dice_layout.ts";
import { makeDiceQuoteGenerator } from "../../dice/dice_quote_generate.ts";
import { encodeClaims } from "../../dice/claims_encode.ts";
import { sigStructure } from "../../dice/sig_structure.ts";
import { diceQuoteFormat } from "./dice_quote_format.ts";
import { parseDiceQuote } from "./dice_parse.ts";
import { dcpDiceRoot, diceTrustAnchorFrom } from "./dice_trust_root.ts";
import type { TrustAnchor } from "../cert_chain.ts";
import type { Expectation } from "../td_policy.ts";
import type { QuoteVerification } from "../verification.ts";

const spec = theSpec();
const L = diceLayout();
const gen = makeDiceQuoteGenerator(spec, new TextEncoder().encode("dice verify test seed"));
const root = (await diceTrustAnchorFrom(gen.pki.root.der)) as TrustAnchor;
const AT = new Date("2030-01-01T00:00:00Z");
const notDebug = encodeBits(spec.bitfield("TD_ATTRIBUTES").fields, { SEPT_VE_DISABLE: 1n });
const report = sampleTdreport(spec, 5, { tdInfo: { attributes: notDebug } });
const good = (() => {
  const q = gen.generate(report);
  assert.ok(q.ok);
  return q.value;
})();
const parsed = parseDiceQuote(good);
if (!parsed.ok) throw new Error(JSON.stringify(parsed.reasons));
const Q = parsed.value;
const body = Q.claims.body;
const alias = gen.pki.alias({
  mrSeam: body.mr_seam as Uint8Array,
  teeTcbSvn: body.tee_tcb_svn as Uint8Array,
});

function verify(
  bytes: Uint8Array,
  opts: { expect?: Expectation[]; allowDebug?: boolean; root?: TrustAnchor; at?: Date } = {},
): Promise<QuoteVerification> {
  return diceQuoteFormat.verify(bytes, {
    root: opts.root ?? root,
    at: opts.at ?? AT,
    allowDebug: opts.allowDebug ?? false,
    expect: opts.expect ?? [],
  });
}

interface Parts {
  prot?: Uint8Array;
  unprot?: Map<number, unknown>;
  payload?: Uint8Array;
  /** Replaces the signature (default: the alias key's over the Sig_structure). */
  sig?: Uint8Array;
  /** The COSE_Sign1 array as given (element count tests). */
  elements?: unknown[];
  cwt?: boolean;
}

/** A quote from parts, signed by the alias key unless a signature is given. */
function build(p: Parts = {}): Uint8Array {
  const prot = p.prot ?? Q.protectedBytes;
  const payload = p.payload ?? Q.payloadBytes;
  const unprot = p.unprot ?? new Map([[L.header.x5bag, Q.certs]]);
  const sig = p.sig ?? signRaw(alias.key, sigStructure(prot, payload));
  const sign1 = new Tagged(L.tag.coseSign1, p.elements ?? [prot, unprot, payload, sig]);
  return encodeCbor(p.cwt === false ? sign1 : new Tagged(L.tag.cwt, sign1));
}

/** The payload with one measurement value replaced (spec form: re-encodes the 571 bytes). */
function payloadWith(submodule: keyof typeof L.submodule, key: number, value: unknown): Uint8Array {
  const claims = decodeCbor(Q.payloadBytes, 32);
  assert.ok(claims.ok && isMap(claims.value));
  const submods = claims.value.get(L.claim.submods) as Map<CborValue, CborValue>;
  const entry = submods.get(L.submodule[submodule].key) as Map<CborValue, CborValue>;
  const tagged = entry.get(L.entry.origin) as Tagged;
  const ce = decodeCbor(tagged.value as Uint8Array, 32);
  assert.ok(ce.ok && isMap(ce.value));
  const triples = (ce.value.get(0) as Map<CborValue, CborValue>).get(0) as CborValue[][];
  const mval = ((triples[0][1] as CborValue[])[0] as Map<CborValue, CborValue>).get(1) as Map<
    CborValue,
    CborValue
  >;
  if (value === undefined) mval.delete(key);
  else mval.set(key, value as CborValue);
  entry.set(L.entry.origin, new Tagged(L.tag.conciseEvidence, encodeCbor(ce.value)));
  return encodeCbor(claims.value);
}

function assertRefused(v: QuoteVerification, check: string, field?: RegExp) {
  assert.equal(v.ok, false);
  const r = v.reasons.find((x) => x.check === check);
  assert.ok(r, `${check} reason in ${JSON.stringify(v.reasons)}`);
  if (field) assert.match(r.field ?? "", field);
}

Deno.test("a generated DICE quote verifies, with --expect on the TD's fields", async () => {
  const expect = [
    "mr_td",
    "rtmr0",
    "rtmr1",
    "rtmr2",
    "rtmr3",
    "report_data",
    "mr_seam",
    "mr_servicetd",
  ]
    .map((key) => ({ key, value: bytesToHex(body[key] as Uint8Array) }));
  expect.push({ key: "td_attributes", value: (body.td_attributes as bigint).toString(16) });
  const v = await verify(good, { expect });
  assert.deepEqual(v.reasons, []);
  assert.ok(v.ok);
  assert.equal(v.format, "dice-es384-quote");
  assert.deepEqual(v.checks.map((c) => `${c.check}:${c.status}`), [
    "parse:pass",
    "quote_signature:pass",
    "dice_chain:pass",
    "tcb_status:skip",
    "debug:pass",
    "expect:pass",
  ]);
  assert.equal(v.decoded?.body.mr_td, bytesToHex(body.mr_td as Uint8Array));
  assert.equal(
    v.decoded?.["certificate[0]"]["tcb_info.fwids"],
    `2.16.840.1.101.3.4.2.2:${bytesToHex(body.mr_seam as Uint8Array)}`,
  );
});

Deno.test("--expect mismatches and a debug TD are refused", async () => {
  const v = await verify(good, { expect: [{ key: "mrtd", value: "00".repeat(48) }] });
  assertRefused(v, "expect", /body\.mr_td/);
  const debugReport = sampleTdreport(spec, 5, {
    tdInfo: { attributes: encodeBits(spec.bitfield("TD_ATTRIBUTES").fields, { DEBUG: 1n }) },
  });
  const q = gen.generate(debugReport);
  assert.ok(q.ok);
  assertRefused(await verify(q.value), "debug", /DEBUG/);
  assert.ok((await verify(q.value, { allowDebug: true })).ok);
});

Deno.test("the chain must end at the given root and be valid at the verification time", async () => {
  assertRefused(await verify(good, { root: await dcpDiceRoot() }), "dice_chain");
  assertRefused(await verify(good, { at: new Date("2024-06-01T00:00:00Z") }), "dice_chain");
  // A leaf signed by someone else's key: the signature check fails.
  const stranger = deriveKey(new Uint8Array([1]), "stranger", "P-384");
  const wrong = build({ sig: signRaw(stranger, sigStructure(Q.protectedBytes, Q.payloadBytes)) });
  assertRefused(await verify(wrong), "quote_signature", /signature/);
});

Deno.test("accepted variants: x5chain, bare COSE_Sign1, a shuffled bag with the root", async () => {
  const certs = Q.certs;
  for (
    const q of [
      gen.generate(report, { certLabel: "x5chain", bare: true }),
      {
        ok: true,
        value: build({
          unprot: new Map([[L.header.x5bag, [certs[2], gen.pki.root.der, certs[0], certs[1]]]]),
        }),
      },
      { ok: true, value: build({ cwt: false }) },
    ]
  ) {
    assert.ok(q.ok);
    const v = await verify(q.value);
    assert.deepEqual(v.reasons, []);
  }
  // x5chain is ordered: leaf first.
  const reversed = build({ unprot: new Map([[L.header.x5chain, [...certs].reverse()]]) });
  assertRefused(await verify(reversed), "dice_chain");
  // A certificate off the path in the bag.
  const other = makeDiceQuoteGenerator(spec, new Uint8Array([9])).pki.platformCa.der;
  assertRefused(
    await verify(build({ unprot: new Map([[L.header.x5bag, [...certs, other]]]) })),
    "dice_chain",
  );
  // The quote signing certificate must not be a CA: a chain without the leaf.
  assertRefused(
    await verify(build({ unprot: new Map([[L.header.x5bag, certs.slice(1)]]) })),
    "dice_chain",
  );
});

Deno.test("strict parsing: each rule gives a parse reason naming the field", async () => {
  const prot = Q.protectedBytes;
  const payload = Q.payloadBytes;
  const sig = Q.signature;
  const unprot = new Map([[L.header.x5bag, Q.certs]]);
  const cases: [string, Uint8Array, RegExp][] = [
    ["5 elements", build({ elements: [prot, unprot, payload, sig, 0] }), /^COSE_Sign1$/],
    ["3 elements", build({ elements: [prot, unprot, payload] }), /^COSE_Sign1$/],
    ["alg ES256", build({ prot: encodeCbor(new Map([[1, -7]])) }), /protected\.alg/],
    [
      "alg missing",
      build({ prot: encodeCbor(new Map([[4, new Uint8Array(1)]])) }),
      /protected\.alg/,
    ],
    ["alg text", build({ prot: encodeCbor(new Map([[1, "ES384"]])) }), /protected\.alg/],
    ["empty protected", build({ prot: new Uint8Array(0) }), /^protected$/],
    ["protected not a map", build({ prot: encodeCbor([1]) }), /^protected$/],
    ["signature 95 bytes", build({ sig: new Uint8Array(95) }), /^signature$/],
    ["signature 97 bytes", build({ sig: new Uint8Array(97) }), /^signature$/],
    ["trailing byte", Uint8Array.from([...good, 0]), /^quote$/],
    [
      "CWT in CWT",
      encodeCbor(
        new Tagged(
          L.tag.cwt,
          decodeCbor(good, 32).ok ? (decodeCbor(good, 32) as { value: unknown }).value : 0,
        ),
      ),
      /^COSE_Sign1$/,
    ],
    ["no certificates", build({ unprot: new Map() }), /^unprotected$/],
    [
      "empty certificate",
      build({ unprot: new Map([[L.header.x5bag, [new Uint8Array(0)]]]) }),
      /x5bag\[0\]/,
    ],
    [
      "kid not bytes",
      build({
        unprot: new Map<number, unknown>([[L.header.kid, "k"], [L.header.x5bag, [
          new Uint8Array(1),
        ]]]),
      }),
      /kid/,
    ],
    ["empty payload", build({ payload: new Uint8Array(0) }), /^payload$/],
    ["payload not a map", build({ payload: encodeCbor([]) }), /^claims$/],
    [
      "no report_data",
      build({ payload: encodeCbor(new Map([[L.claim.submods, new Map()]])) }),
      /claims\.report_data/,
    ],
    [
      "mr_td 47 bytes",
      build({ payload: payloadWith("td_quote_body", -83, new Uint8Array(47)) }),
      /mr_td/,
    ],
    ["rtmr1 missing", build({ payload: payloadWith("td_quote_body", -207, undefined) }), /rtmr1/],
    [
      "xfam as a digest tuple",
      build({ payload: payloadWith("td_quote_body", -201, [7, new Uint8Array(8)]) }),
      /xfam/,
    ],
  ];
  for (const [name, bytes, field] of cases) {
    const v = await verify(bytes);
    assert.equal(v.ok, false, name);
    assert.equal(v.reasons[0]?.check, "parse", `${name}: ${JSON.stringify(v.reasons)}`);
    assert.match(v.reasons[0].field ?? "", field, name);
  }
});

Deno.test("accepted value forms: CoRIM digest tuples, SVNs as bytes, other tags, eat_profile OID", async () => {
  // The alg-id of a CoRIM digest is not checked (go-tdx-guest ignores it); 7 is sha-384's.
  const tuple = build({ payload: payloadWith("td_quote_body", -83, [7, body.mr_td]) });
  assert.deepEqual((await verify(tuple)).reasons, []);
  const svnBytes = build({ payload: payloadWith("platform_tcb", -125, body.tee_tcb_svn) });
  assert.deepEqual((await verify(svnBytes)).reasons, []);
  // eat_profile as DER OID content octets (2.16.840.1.113741.1.16.1) is shown as dotted text.
  const claims = decodeCbor(Q.payloadBytes, 32);
  assert.ok(claims.ok && isMap(claims.value));
  claims.value.set(
    L.claim.eatProfile,
    Uint8Array.from([0x60, 0x86, 0x48, 0x01, 0x86, 0xf8, 0x4d, 0x01, 0x10, 0x01]),
  );
  claims.value.set(L.claim.iss, "issuer");
  // An unknown tag (111, a CoRIM OID) deep in a claim the verifier does not read.
  claims.value.set(-70000, new Tagged(111, new Uint8Array(3)));
  const v = await verify(build({ payload: encodeCbor(claims.value) }));
  assert.deepEqual(v.reasons, []);
  assert.equal(v.decoded?.claims.eat_profile, "2.16.840.1.113741.1.16.1");
  assert.equal(v.decoded?.claims.iss, "issuer");
});

Deno.test("Intel's integration-sample form of the claims verifies to the same body", async () => {
  const payload = encodeClaims(L, body as DecodedStruct, { form: "integration sample" });
  const v = await verify(build({ payload }));
  assert.deepEqual(v.reasons, []);
  assert.equal(v.decoded?.quote.claims_form, "integration sample");
  const p = parseDiceQuote(build({ payload }));
  assert.ok(p.ok);
  assert.deepEqual(p.value.claims.body, body);
});

Deno.test("every single-bit change in the signed bytes and every truncation is refused", async () => {
  const q = parseDiceQuote(good);
  assert.ok(q.ok);
  // Where the protected header and payload sit in the quote.
  const find = (needle: Uint8Array) => {
    const hay = bytesToHex(good);
    const at = hay.indexOf(bytesToHex(needle));
    assert.ok(at >= 0 && at % 2 === 0);
    return at / 2;
  };
  const ranges = [
    [find(q.value.protectedBytes), q.value.protectedBytes.length],
    [find(q.value.payloadBytes), q.value.payloadBytes.length],
    [good.length - q.value.signature.length, q.value.signature.length],
    [0, 8],
  ];
  // Independent verifications run side by side (WebCrypto works off the main thread).
  const variants: [string, Uint8Array][] = [];
  for (const [start, len] of ranges) {
    for (let i = start; i < start + len; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const copy = good.slice();
        copy[i] ^= 1 << bit;
        variants.push([`flipping bit ${bit} of byte ${i}`, copy]);
      }
    }
  }
  assert.ok(variants.length > 8 * 1000);
  for (let len = 0; len < good.length; len++) {
    variants.push([`the first ${len} bytes`, good.subarray(0, len)]);
  }
  const BATCH = 64;
  for (let i = 0; i < variants.length; i += BATCH) {
    const batch = variants.slice(i, i + BATCH);
    const results = await Promise.all(batch.map(([, b]) => verify(b)));
    results.forEach((v, j) => {
      if (v.ok) assert.fail(`${batch[j][0]} was accepted`);
    });
  }
});
