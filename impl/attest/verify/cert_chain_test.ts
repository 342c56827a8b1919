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

Deno.test("a PCK certificate whose outer signature algorithm differs from its TBS one is refused", async () => {
  // ecdsa-with-SHA256 as an AlgorithmIdentifier; its last occurrence is the outer one, after
  // the TBS, so changing it leaves the signed bytes (and the signature) valid.
  const alg = [0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
  const leaf = pckChain[0];
  let at = -1;
  for (let i = 0; i + alg.length <= leaf.length; i++) {
    if (alg.every((b, j) => leaf[i + j] === b)) at = i;
  }
  assert.ok(at > 0);
  for (const last of [0x03, 0x04]) {
    const changed = leaf.slice();
    changed[at + alg.length - 1] = last; // ecdsa-with-SHA384, -SHA512
    const c = await verifyChainUncached([changed, ...pckChain.slice(1)], root, expectPck);
    assert.deepEqual(c.reasons.map((r) => r.field), ["certificate[0] (Intel SGX PCK Certificate)"]);
    assert.match(c.reasons[0].message, /ecdsa-with-SHA256 in both places/);
  }
});
