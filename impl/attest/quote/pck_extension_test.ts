// The SGX extension codec reads the real PCK leaves of fixtures/realdata and, encoding
// what it read, gives back their exact bytes: the generated test leaves have the same
// structure as Intel's.
import { strict as assert } from "node:assert";
import * as pkijs from "pkijs";
import { theSpec } from "../../spec/mod.ts";
import { bytesToHex } from "../../spec/hex.ts";
import { decodeQuote } from "./quote_decode.ts";
import { decodePckExtension, encodePckExtension } from "./pck_extension.ts";
import { sgxOid } from "./sgx_oids.ts";
import { pemToDer } from "./pem.ts";

const spec = theSpec();

// FMSPC of each quote's PCK leaf, as PROVENANCE.md lists it.
const FMSPC: Record<string, string> = {
  "dcapqvl_near_quote.hexdecoded.dat": "20a06f000000",
  "dcapqvl_tdx_quote.dat": "b0c06f000000",
  "dcapqvl_tdx_quote_outdated.dat": "90c06f000000",
  "gotdx_cos113_tdx_quote.dat": "00806f050000",
  "gotdx_quote_v5_sample.dat": "90c06f000000",
  "gotdx_tdx_prod_quote_SPR_E4.dat": "50806f000000",
  "trustee_az_tdx_vtpm_td-quote.bin": "00806f050000",
  "trustee_tdx_quote_4.dat": "50806f000000",
  "trustee_tdx_quote_5.dat": "90c06f000000",
  "trustee_tdx_quote_6.dat": "00a06d080000",
};

Deno.test("real PCK leaves: SGX extensions decode and re-encode byte for byte", async (t) => {
  assert.equal(sgxOid(spec), "1.2.840.113741.1.13.1");
  assert.equal(sgxOid(spec, "TCB.PCESVN"), "1.2.840.113741.1.13.1.2.17");
  for (const [file, fmspc] of Object.entries(FMSPC)) {
    await t.step(file, () => {
      const bytes = Deno.readFileSync(
        new URL(`../../../fixtures/realdata/quotes/${file}`, import.meta.url),
      );
      const q = decodeQuote(spec, bytes);
      assert.ok(q.ok);
      const leaf = pkijs.Certificate.fromBER(pemToDer(q.value.pckChainPem!)[0]);
      const ext = leaf.extensions!.find((e) => e.extnID === sgxOid(spec))!;
      const der = new Uint8Array(ext.extnValue.valueBlock.valueHexView);
      const x = decodePckExtension(spec, der);
      assert.ok(x.ok, x.ok ? "" : x.error.message);
      assert.equal(bytesToHex(x.value.fmspc), fmspc);
      assert.equal(x.value.tcbComponents.length, 16);
      assert.equal(x.value.ppid.length, 16);
      assert.deepEqual(encodePckExtension(spec, x.value), der);
    });
  }
});

Deno.test("a malformed SGX extension is an error value", () => {
  for (const bad of [new Uint8Array(0), new Uint8Array([0x30, 0x00]), new Uint8Array([4, 1, 0])]) {
    const r = decodePckExtension(spec, bad);
    assert.ok(!r.ok);
    assert.equal(r.error.kind, "invalid");
  }
});
