import assert from "node:assert/strict";
import { addCollateralFile, emptyCollateral } from "./collateral.ts";
import { rawJsonMember } from "./json_raw_member.ts";
import { collateralFile } from "./fixtures_table.ts";
import { intelSgxRoot } from "./trust_root.ts";
import { prepareCollateral } from "./collateral_verify.ts";

const root = await intelSgxRoot();
const read = (f: string) => Deno.readFileSync(collateralFile(f));

Deno.test("rawJsonMember returns the member's exact text", () => {
  const text =
    ' { "a" : [1, {"x":"}\\"]"}] ,"tcbInfo":{"id":"TDX", "n" : [ 1,2 ]}, "signature":"ab"}';
  assert.equal(rawJsonMember(text, "tcbInfo"), '{"id":"TDX", "n" : [ 1,2 ]}');
  assert.equal(rawJsonMember(text, "a"), '[1, {"x":"}\\"]"}]');
  assert.equal(rawJsonMember(text, "signature"), '"ab"');
  assert.equal(rawJsonMember(text, "missing"), undefined);
  assert.equal(rawJsonMember("{not json", "a"), undefined);
  assert.equal(rawJsonMember("[1,2]", "a"), undefined);
});

Deno.test("dcap-qvl collateral JSON loads and its signatures verify", async () => {
  for (
    const f of [
      "dcapqvl_tdx_quote_collateral.json",
      "dcapqvl_tdx_quote_outdated_collateral.json",
      "dcapqvl_near_quote_collateral.json",
    ]
  ) {
    const col = emptyCollateral();
    assert.deepEqual(addCollateralFile(col, f, read(f)), { ok: true });
    assert.ok(col.tcbInfo && col.qeIdentity && col.tcbInfoIssuerChain?.length === 2);
    assert.equal(col.crls.length, 2);
    const p = await prepareCollateral(col, root);
    assert.deepEqual(p.reasons, [], f);
    assert.equal(p.tcbInfo?.id, "TDX");
    assert.equal(p.qeIdentity?.id, "TD_QE");
    assert.equal(p.rootCrls.length, 1);
    assert.equal(p.pckCrls.length, 1);
  }
});

Deno.test("Intel PCS responses: the signature is over the raw member text", async () => {
  const col = emptyCollateral();
  for (
    const f of [
      "trustee_tcbInfo.json",
      "trustee_enclaveIdentity.json",
      "certs/derived_intel_sgx_tcb_signing.pem",
      "gotdx_rootcrl.der",
      "gotdx_pckcrl",
    ]
  ) {
    assert.deepEqual(addCollateralFile(col, f, read(f)), { ok: true }, f);
  }
  const p = await prepareCollateral(col, root);
  assert.deepEqual(p.reasons, []);
  assert.equal(p.tcbInfo?.tcbEvaluationDataNumber, 17);
  assert.equal(p.rootCrls.length, 1);
  assert.equal(p.pckCrls.length, 1);
  // Re-serializing the object changes the bytes, and the signature no longer verifies.
  const tampered = emptyCollateral();
  const text = new TextDecoder().decode(read("trustee_tcbInfo.json"));
  const reserialized = JSON.stringify(JSON.parse(text), null, 1);
  addCollateralFile(tampered, "reserialized", new TextEncoder().encode(reserialized));
  addCollateralFile(tampered, "pem", read("certs/derived_intel_sgx_tcb_signing.pem"));
  const q = await prepareCollateral(tampered, root);
  assert.ok(q.reasons.some((r) => /signature does not verify/.test(r.message)));
});

Deno.test("PCS responses without an issuer chain say so", async () => {
  const col = emptyCollateral();
  addCollateralFile(col, "tcb.json", read("trustee_tcbInfo.json"));
  const p = await prepareCollateral(col, root);
  assert.equal(p.reasons.length, 1);
  assert.equal(p.reasons[0].check, "collateral");
  assert.match(p.reasons[0].message, /no issuer chain/);
});

Deno.test("unreadable collateral is a message naming the file and field", () => {
  const cases: [string, string, RegExp][] = [
    ["a.json", "{", /a\.json: not valid JSON/],
    ["b.json", '{"foo": 1}', /b\.json: unknown collateral JSON/],
    ["c.json", '{"tcb_info": "{}"}', /c\.json: field tcb_info_signature: missing/],
    [
      "d.json",
      '{"tcb_info": "{}", "tcb_info_signature": "zz"}',
      /d\.json: field tcb_info_signature: not a hex/,
    ],
    ["e.json", '{"pck_crl": "00"}', /e\.json: field pck_crl: not a DER X\.509 CRL/],
    ["f.json", '{"tcbInfo": {"id": "TDX"}}', /f\.json: field signature: missing/],
    ["g.der", "\u0001\u0002\u0003", /g\.der: not JSON, PEM or a DER X\.509 CRL/],
    [
      "h.pem",
      "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
      /h\.pem: unreadable PEM/,
    ],
  ];
  for (const [name, text, want] of cases) {
    const r = addCollateralFile(emptyCollateral(), name, new TextEncoder().encode(text));
    assert.equal(r.ok, false, name);
    assert.match(!r.ok ? r.error : "", want);
  }
});

Deno.test("a malformed but signed-looking TCB info is a tcb_info reason, not a crash", async () => {
  const col = emptyCollateral();
  addCollateralFile(
    col,
    "x.json",
    new TextEncoder().encode(
      JSON.stringify({ tcb_info: '{"id":"TDX"}', tcb_info_signature: "00".repeat(64) }),
    ),
  );
  addCollateralFile(col, "pem", read("certs/derived_intel_sgx_tcb_signing.pem"));
  const p = await prepareCollateral(col, root);
  assert.ok(p.reasons.some((r) => r.check === "collateral" && /signature/.test(r.message)));
  assert.ok(p.reasons.some((r) => r.check === "tcb_info" && /malformed/.test(r.message)));
});
