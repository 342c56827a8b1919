// Revocation by the root CA CRL and the PCK CRL. No real CRL revokes a real quote's
// certificates, so the real, correctly signed CRLs are given extra serial numbers here:
// the signature check still passes on their real bytes and the lookup is what is tested.
import assert from "node:assert/strict";
import { parseEcdsaQuote } from "./quote_parse.ts";
import { checkPckChain, pckRevocationReasons } from "./pck_chain.ts";
import { intelSgxRoot } from "./trust_root.ts";
import { parseCrl } from "./crl.ts";
import { collateralFile, quoteFile } from "./fixtures_table.ts";
import type { PreparedCollateral } from "./collateral_verify.ts";

const root = await intelSgxRoot();
const pckCrl = parseCrl(Deno.readFileSync(collateralFile("gotdx_pckcrl")))!;
const rootCrl = parseCrl(Deno.readFileSync(collateralFile("gotdx_rootcrl.der")))!;

async function chain() {
  const q = parseEcdsaQuote(Deno.readFileSync(quoteFile("dcapqvl_tdx_quote.dat")));
  assert.ok(q.ok);
  return await checkPckChain(q.value.pckChainPem, root);
}

const prepared = (p: Partial<PreparedCollateral>): PreparedCollateral => ({
  rootCrls: [],
  pckCrls: [],
  reasons: [],
  ...p,
});

Deno.test("the real CRLs parse with their issuers, dates and entries", () => {
  assert.equal(pckCrl.issuerCN, "Intel SGX PCK Platform CA");
  assert.equal(pckCrl.revoked.size, 44);
  assert.equal(pckCrl.nextUpdate?.toISOString(), "2023-07-08T07:27:52.000Z");
  assert.equal(rootCrl.issuerCN, "Intel SGX Root CA");
  assert.equal(rootCrl.revoked.size, 0);
});

Deno.test("unrevoked chain: real CRLs pass and their signatures verify", async () => {
  const c = await chain();
  const r = await pckRevocationReasons(c, prepared({ rootCrls: [rootCrl], pckCrls: [pckCrl] }));
  assert.deepEqual(r, { reasons: [], notes: [] });
});

Deno.test("a revoked PCK leaf is refused", async () => {
  const c = await chain();
  const crl = { ...pckCrl, revoked: new Set([...pckCrl.revoked, c.certs[0].serialHex]) };
  const r = await pckRevocationReasons(c, prepared({ pckCrls: [crl] }));
  assert.deepEqual(r.reasons.map((x) => [x.check, x.message]), [[
    "crl",
    "the PCK certificate is revoked by the PCK CRL",
  ]]);
  assert.deepEqual(r.notes, ["no root CA CRL"]);
});

Deno.test("a revoked PCK CA is refused by the root CA CRL", async () => {
  const c = await chain();
  const crl = { ...rootCrl, revoked: new Set([c.certs[1].serialHex]) };
  const r = await pckRevocationReasons(c, prepared({ rootCrls: [crl] }));
  assert.equal(r.reasons.length, 1);
  assert.match(r.reasons[0].message, /revoked by the root CA CRL/);
});

Deno.test("a PCK CRL from another issuer, or with a bad signature, is refused", async () => {
  const c = await chain();
  let r = await pckRevocationReasons(c, prepared({ pckCrls: [{ ...rootCrl }] }));
  assert.match(r.reasons[0].message, /not issued by the PCK certificate's issuer/);
  const tbs = pckCrl.tbs.slice();
  tbs[tbs.length - 1] ^= 1;
  r = await pckRevocationReasons(c, prepared({ pckCrls: [{ ...pckCrl, tbs, key: "tampered" }] }));
  assert.match(r.reasons[0].message, /signature does not verify/);
});
