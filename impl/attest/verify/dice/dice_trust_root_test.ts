// The shipped DICE root is the DCP DICE Global Root CA, intact (its DER fingerprint is the
// constant go-tdx-guest's tests check), and loads as a P-384 trust anchor; P-256 and
// P-384 roots both load through trustAnchorFromBytes.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { bytesToHex } from "../../../spec/hex.ts";
import { pemCertificates } from "../pem.ts";
import { DEFAULT_ROOT_URL, trustAnchorFromBytes } from "../trust_root.ts";
import { dcpDiceRoot, DICE_ROOT_URL, diceTrustAnchorFrom } from "./dice_trust_root.ts";

Deno.test("the DCP DICE Global Root CA is the shipped DICE root, byte for byte", async () => {
  const pem = await Deno.readFile(DICE_ROOT_URL);
  const copy = await Deno.readFile(
    new URL("../../../../fixtures/realdata/certs/gotdx_trusted_dice_root.pem", import.meta.url),
  );
  assert.deepEqual(pem, copy);
  const der = pemCertificates(new TextDecoder().decode(pem))![0];
  assert.equal(
    createHash("sha256").update(der).digest("hex"),
    "8031cd5e07d49be7f308900ef1775145cde8d264d385450038f2e82904d5c907",
  );
  const root = await dcpDiceRoot();
  assert.equal(root.cert.subjectCN, "DCP DICE Global Root CA");
  assert.equal((root.key.algorithm as EcKeyAlgorithm).namedCurve, "P-384");
  assert.equal(bytesToHex(root.cert.subject), bytesToHex(root.cert.issuer));
});

Deno.test("P-256 roots are not DICE roots; trustAnchorFromBytes takes either curve", async () => {
  const sgx = await Deno.readFile(DEFAULT_ROOT_URL);
  const sgxDer = pemCertificates(new TextDecoder().decode(sgx))![0];
  assert.match(String(await diceTrustAnchorFrom(sgxDer)), /not an EC P-384 key/);
  const a = await trustAnchorFromBytes(sgx);
  const b = await trustAnchorFromBytes(await Deno.readFile(DICE_ROOT_URL));
  assert.equal(typeof a, "object");
  assert.equal(typeof b, "object");
  assert.equal((b as { cert: { subjectCN: string } }).cert.subjectCN, "DCP DICE Global Root CA");
  assert.equal(await diceTrustAnchorFrom(new Uint8Array([0x30, 0])), "not a DER X.509 certificate");
});
