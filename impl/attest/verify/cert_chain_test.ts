import assert from "node:assert/strict";
import { verifyChainUncached } from "./cert_chain.ts";
import { intelSgxRoot } from "./trust_root.ts";
import { pemCertificates } from "./pem.ts";
import { collateralFile, quoteFile } from "./fixtures_table.ts";
import { parseEcdsaQuote } from "./quote_parse.ts";

const root = await intelSgxRoot();
const pem = (f: string) =>
  pemCertificates(new TextDecoder().decode(Deno.readFileSync(collateralFile(f))))!;
const tcbSigning = pem("certs/derived_intel_sgx_tcb_signing.pem")[0];
const rootDer = pem("certs/gotdx_trusted_root.pem")[0];
const q = parseEcdsaQuote(Deno.readFileSync(quoteFile("dcapqvl_tdx_quote.dat")));
assert.ok(q.ok);
const pckChain = pemCertificates(new TextDecoder().decode(q.value.pckChainPem))!;
const expectPck = {
  check: "pck_chain" as const,
  what: "PCK chain",
  leafCommonName: "SGX PCK Certificate",
};

Deno.test("the TCB Signing certificate chains to the root, with or without the root given", async () => {
  const expect = { check: "collateral" as const, what: "TCB", leafCommonName: "SGX TCB Signing" };
  for (const ders of [[tcbSigning], [tcbSigning, rootDer]]) {
    const c = await verifyChainUncached(ders, root, expect);
    assert.deepEqual(c.reasons, []);
    assert.equal(c.certs.length, 1);
    assert.ok(c.leafKey);
  }
});

Deno.test("a real PCK chain passes; reordered, cut or mislabelled chains do not", async () => {
  assert.deepEqual((await verifyChainUncached(pckChain, root, expectPck)).reasons, []);
  const swapped = await verifyChainUncached(
    [pckChain[1], pckChain[0], pckChain[2]],
    root,
    expectPck,
  );
  assert.ok(swapped.reasons.length > 0);
  const noCa = await verifyChainUncached([pckChain[0]], root, expectPck);
  assert.ok(noCa.reasons.some((r) => /issuer name does not match/.test(r.message)));
  const wrongKind = await verifyChainUncached([tcbSigning], root, expectPck);
  assert.deepEqual(wrongKind.reasons.map((r) => r.field), ["certificate[0].subject.CN"]);
  const garbage = await verifyChainUncached(
    [new Uint8Array([0x30, 0x03, 1, 2, 3])],
    root,
    expectPck,
  );
  assert.match(garbage.reasons[0].message, /not a DER X.509 certificate/);
});

Deno.test("a flipped bit in a certificate's signed part breaks its signature", async () => {
  const leaf = pckChain[0].slice();
  leaf[200] ^= 1;
  const c = await verifyChainUncached([leaf, pckChain[1]], root, expectPck);
  assert.ok(c.reasons.length > 0);
});
