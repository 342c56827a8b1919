// Generated DICE quotes: the layout of DICE_QUOTE_COSE_SIGN1 byte by byte where it is
// fixed, the ES384 signature and the certificate chain checked with node:crypto (not with
// the libraries that made them), the claims carrying the TDREPORT's fields, and the same
// seed giving the same bytes.
import { strict as assert } from "node:assert";
import { verify as nodeVerify, X509Certificate } from "node:crypto";
import { theSpec } from "../../spec/mod.ts";
import { bytesToHex } from "../../spec/hex.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { sampleTdreport } from "../quote/tdreport_sample.ts";
import { decodeTdreport, quoteBodyFromTdreport } from "../quote/td_quote_body.ts";
import { decodeCbor, isMap, mapGet, type Tagged } from "./cbor.ts";
import { diceLayout } from "./dice_layout.ts";
import { makeDiceQuoteGenerator } from "./dice_quote_generate.ts";
import { tcgDiceOid } from "./dice_oids.ts";

const spec = theSpec();
const L = diceLayout();
const seed = new TextEncoder().encode("dice quote generation test seed");
const gen = makeDiceQuoteGenerator(spec, seed);
const report = sampleTdreport(spec, 21);

function quote(request = {}): Uint8Array {
  const q = gen.generate(report, request);
  assert.ok(q.ok, JSON.stringify(q));
  return q.value;
}

/** The four COSE_Sign1 elements, read back with the CBOR decoder. */
function elements(q: Uint8Array) {
  const d = decodeCbor(q, L.maxDepth);
  assert.ok(d.ok);
  let t = d.value as Tagged;
  if (t.tag === L.tag.cwt) t = t.value as Tagged;
  assert.equal(t.tag, L.tag.coseSign1);
  const [prot, unprot, payload, sig] = t.value as [
    Uint8Array,
    Map<unknown, unknown>,
    Uint8Array,
    Uint8Array,
  ];
  return { prot, unprot, payload, sig };
}

/** RFC 9052 Sig_structure assembled by hand: array(4), "Signature1", bstr, h'', bstr. */
function handSigStructure(prot: Uint8Array, payload: Uint8Array): Uint8Array {
  const bstrHead = (n: number) =>
    n < 24 ? [0x40 | n] : n < 256 ? [0x58, n] : [0x59, n >> 8, n & 0xff];
  const context = new TextEncoder().encode("Signature1");
  return Uint8Array.from([
    0x84,
    0x60 | context.length,
    ...context,
    ...bstrHead(prot.length),
    ...prot,
    0x40,
    ...bstrHead(payload.length),
    ...payload,
  ]);
}

Deno.test("a DICE quote opens D8 3D D2 84 and its protected header is {1: -35}", () => {
  const q = quote();
  assert.equal(bytesToHex(q.subarray(0, 4)), "d83dd284");
  const { prot, sig, unprot } = elements(q);
  // The minimal encoding the spec's DICE_QUOTE_PROTECTED_HEADER note gives.
  assert.equal(bytesToHex(prot), "a1013822");
  assert.equal(sig.length, 96);
  assert.deepEqual([...unprot.keys()], [L.header.x5bag]);
  const bare = quote({ bare: true, certLabel: "x5chain" });
  assert.equal(bytesToHex(bare.subarray(0, 2)), "d284");
  assert.deepEqual([...elements(bare).unprot.keys()], [L.header.x5chain]);
});

Deno.test("the ES384 signature and the chain verify with node:crypto", () => {
  const q = quote();
  const { prot, payload, sig, unprot } = elements(q);
  const ders = unprot.get(L.header.x5bag) as Uint8Array[];
  const certs = ders.map((d) => new X509Certificate(d));
  const root = new X509Certificate(gen.pki.root.der);
  const chain = [...certs, root];
  for (let i = 0; i < certs.length; i++) {
    assert.ok(chain[i].checkIssued(chain[i + 1]), `certificate ${i} is issued by ${i + 1}`);
    assert.ok(chain[i].verify(chain[i + 1].publicKey), `certificate ${i} signature`);
  }
  assert.ok(root.verify(root.publicKey));
  assert.equal(certs[0].publicKey.asymmetricKeyDetails?.namedCurve, "secp384r1");
  assert.equal(certs[0].ca, false);
  const leafKey = certs[0].publicKey;
  const signed = handSigStructure(prot, payload);
  assert.ok(nodeVerify("sha384", signed, { key: leafKey, dsaEncoding: "ieee-p1363" }, sig));
  const tampered = signed.slice();
  tampered[tampered.length - 1] ^= 1;
  assert.ok(!nodeVerify("sha384", tampered, { key: leafKey, dsaEncoding: "ieee-p1363" }, sig));
});

Deno.test("the claims carry REPORTDATA and every TD_QUOTE_BODY_1_5 field of the TDREPORT", () => {
  const d = decodeTdreport(spec, report);
  assert.ok(d.ok);
  const body = quoteBodyFromTdreport(spec, d.value, "TD_QUOTE_BODY_1_5");
  const bodyBytes = new StructCodec(spec).encode("TD_QUOTE_BODY_1_5", body);
  const claims = decodeCbor(elements(quote()).payload, L.maxDepth);
  assert.ok(claims.ok && isMap(claims.value));
  assert.deepEqual(mapGet(claims.value, L.claim.reportData), body.report_data);
  const submods = mapGet(claims.value, L.claim.submods);
  assert.ok(isMap(submods));
  assert.deepEqual(
    [...submods.keys()].sort(),
    Object.values(L.submodule).map((s) => s.key).sort(),
  );
  // Every placed field: the bytes of the binary body at that field, read through the maps.
  for (const p of L.places) {
    const entry = mapGet(submods, L.submodule[p.submodule].key) as Map<unknown, unknown>;
    const tagged = entry.get(L.entry[p.entry]) as Tagged;
    assert.equal(tagged.tag, L.tag.conciseEvidence);
    const ce = decodeCbor(tagged.value as Uint8Array, L.maxDepth);
    assert.ok(ce.ok && isMap(ce.value));
    const triples = (mapGet(ce.value, 0) as Map<unknown, unknown>).get(0) as unknown[][];
    const mval = (triples[0][1] as Map<unknown, unknown>[])[0].get(1) as Map<unknown, unknown>;
    const v = mval.get(p.key);
    const f = spec.struct("TD_QUOTE_BODY_1_5").fields.find((x) => x.name === p.field)!;
    const want = bodyBytes.subarray(f.offset!, f.offset! + f.size!);
    assert.deepEqual(v instanceof Uint8Array ? v : Uint8Array.from(v as number[]), want, p.field);
  }
});

Deno.test("the quoting certificate's TcbInfo names the TDX module: FWID = MRSEAM", () => {
  const { unprot } = elements(quote());
  const leaf = new X509Certificate((unprot.get(L.header.x5bag) as Uint8Array[])[0]);
  const d = decodeTdreport(spec, report);
  assert.ok(d.ok);
  const mrSeam = (d.value.tee_tcb_info as DecodedStruct).mr_seam as Uint8Array;
  // The extension is there under tcg-dice-TcbInfo and holds the MRSEAM digest.
  assert.equal(tcgDiceOid("TCB_INFO"), "2.23.133.5.4.1");
  const raw = new Uint8Array(leaf.raw);
  const at = bytesToHex(raw).indexOf(bytesToHex(mrSeam));
  assert.ok(at > 0 && at % 2 === 0);
});

Deno.test("the same seed and report give the same bytes; renewed keys and other seeds differ", () => {
  const again = makeDiceQuoteGenerator(spec, seed).generate(report);
  assert.ok(again.ok);
  assert.deepEqual(again.value, quote());
  assert.notDeepEqual(quote({ generation: 1 }), quote());
  const other = makeDiceQuoteGenerator(spec, new TextEncoder().encode("another seed")).generate(
    report,
  );
  assert.ok(other.ok);
  assert.notDeepEqual(other.value, quote());
});

Deno.test("a report that is not a TDX TDREPORT gets a reason, not a quote", () => {
  const short = gen.generate(report.subarray(0, 100));
  assert.equal(short.ok, false);
  const altered = report.slice();
  altered[600] ^= 1;
  const r = gen.generate(altered);
  assert.equal(r.ok, false);
  assert.match((r as { error: { field: string } }).error.field, /REPORTMACSTRUCT/);
});
