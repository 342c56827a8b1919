// Test collateral has the JSON shape of the real dcap-qvl collateral, its signatures,
// chains and CRLs verify with node:crypto and pkijs/WebCrypto, and dcap-qvl, given the
// test root, accepts the generated quotes with it (TCB status UpToDate).
import { strict as assert } from "node:assert";
import { Buffer } from "node:buffer";
import { createVerify, X509Certificate } from "node:crypto";
import * as pkijs from "pkijs";
import { QuoteVerifier } from "@phala/dcap-qvl";
import { theSpec } from "../../spec/mod.ts";
import { encodeBits } from "../../spec/bits.ts";
import { hexToBytes } from "../../spec/hex.ts";
import { makeQuoteGenerator } from "./quote_generate.ts";
import { makeCollateral } from "./collateral.ts";
import { sampleTdreport } from "./tdreport_sample.ts";
import { pemToDer } from "./pem.ts";

const spec = theSpec();
const gen = makeQuoteGenerator(spec, new TextEncoder().encode("collateral test seed"));
const teeTcbSvn = Uint8Array.of(3, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
// A production-like TD: no debug, SEPT_VE_DISABLE set, no service TD, Intel's module.
const report = sampleTdreport(spec, 5, {
  tdInfo: {
    attributes: encodeBits(spec.bitfield("TD_ATTRIBUTES").fields, { SEPT_VE_DISABLE: 1n }),
    servtd_hash: new Uint8Array(48),
  },
  teeTcbInfo: { tee_tcb_svn: teeTcbSvn, mr_signer_seam: new Uint8Array(48), attributes: 0n },
});
const collateral = makeCollateral(spec, gen, { teeTcbSvn });
const NOW = Date.parse("2026-06-01T00:00:00Z") / 1000;
const real = JSON.parse(
  Deno.readTextFileSync(
    new URL(
      "../../../fixtures/realdata/collateral/dcapqvl_tdx_quote_collateral.json",
      import.meta.url,
    ),
  ),
);

function keysDeep(v: unknown): string[] {
  if (Array.isArray(v)) return v.length ? keysDeep(v[0]) : [];
  if (v && typeof v === "object") {
    return Object.entries(v).flatMap(([k, x]) => [k, ...keysDeep(x).map((s) => `${k}.${s}`)]);
  }
  return [];
}

Deno.test("collateral has the shape of the real dcap-qvl collateral", () => {
  assert.deepEqual(Object.keys(collateral).sort(), Object.keys(real).sort());
  const ours = new Set(keysDeep(JSON.parse(collateral.tcb_info)));
  // Component category/type names are optional descriptions; everything else matches.
  const theirs = keysDeep(JSON.parse(real.tcb_info)).filter((k) => !/\.(category|type)$/.test(k));
  for (const k of theirs) assert.ok(ours.has(k), `tcb_info lacks ${k}`);
  assert.deepEqual(
    keysDeep(JSON.parse(collateral.qe_identity)).sort(),
    keysDeep(JSON.parse(real.qe_identity)).sort(),
  );
});

Deno.test("collateral signatures, chains and CRLs verify", async () => {
  const [tcbCert, root] = pemToDer(collateral.tcb_info_issuer_chain).map((d) =>
    new X509Certificate(d)
  );
  assert.ok(tcbCert.verify(root.publicKey) && root.verify(root.publicKey));
  for (
    const [text, sig] of [
      [collateral.tcb_info, collateral.tcb_info_signature],
      [collateral.qe_identity, collateral.qe_identity_signature],
    ]
  ) {
    const v = createVerify("SHA256").update(text);
    assert.ok(v.verify({ key: tcbCert.publicKey, dsaEncoding: "ieee-p1363" }, hexToBytes(sig)));
  }
  const [ca] = pemToDer(collateral.pck_crl_issuer_chain).map((d) => pkijs.Certificate.fromBER(d));
  const rootCert = pkijs.Certificate.fromBER(gen.pki.root.der.slice());
  const rootCrl = pkijs.CertificateRevocationList.fromBER(
    hexToBytes(collateral.root_ca_crl).slice(),
  );
  const pckCrl = pkijs.CertificateRevocationList.fromBER(hexToBytes(collateral.pck_crl).slice());
  assert.ok(await rootCrl.verify({ issuerCertificate: rootCert }));
  assert.ok(await pckCrl.verify({ issuerCertificate: ca }));
  assert.equal(pckCrl.revokedCertificates, undefined);
});

Deno.test("dcap-qvl with the test root accepts generated v4 and v5 quotes", async (t) => {
  // dcap-qvl's DER parser wants a Node Buffer.
  const verifier = QuoteVerifier.newWithRootCa(Buffer.from(gen.pki.root.der));
  for (const request of [{ version: 4 }, { version: 5, body: "1.0" as const }, { version: 5 }]) {
    await t.step(JSON.stringify(request), () => {
      const q = gen.generate(report, request);
      assert.ok(q.ok);
      const v = verifier.verify(q.value, collateral, NOW);
      assert.equal(v.status, "UpToDate");
      // Not compared: v.ppid. dcap-qvl 0.3.9 reads SGX_TYPE's ENUMERATED with its tag and
      // length, fails, and reports an empty PPID for real Intel leaves as well.
    });
  }
  await t.step("a changed quote byte or another root is refused", () => {
    const q = gen.generate(report);
    assert.ok(q.ok);
    const bad = q.value.slice();
    bad[200] ^= 1;
    assert.throws(() => verifier.verify(bad, collateral, NOW));
    assert.throws(() => QuoteVerifier.newProd().verify(q.value, collateral, NOW));
  });
});

Deno.test("collateral is the same bytes for the same seed", () => {
  const again = makeCollateral(
    spec,
    makeQuoteGenerator(spec, new TextEncoder().encode("collateral test seed")),
    { teeTcbSvn },
  );
  assert.deepEqual(again, collateral);
});
