// Generated quotes decode with the spec's codec to the TDREPORT's fields, their
// signatures and certificate chain verify with WebCrypto and node:crypto (not with the
// library that made them), the same seed gives the same bytes, and bad TDREPORTs or
// requests are refused with a reason.
import { strict as assert } from "node:assert";
import { X509Certificate } from "node:crypto";
import { p256 } from "@noble/curves/nist.js";
import { theSpec } from "../../spec/mod.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { encodeBits } from "../../spec/bits.ts";
import { enumNumber, fieldOffset, fieldSize } from "../spec_facts.ts";
import { makeQuoteGenerator } from "./quote_generate.ts";
import { decodeQuote } from "./quote_decode.ts";
import { sampleTdreport } from "./tdreport_sample.ts";
import { pemToDer } from "./pem.ts";
import { decodePckExtension } from "./pck_extension.ts";
import { sgxOid } from "./sgx_oids.ts";
import * as pkijs from "pkijs";

const spec = theSpec();
const codec = new StructCodec(spec);
const seed = new TextEncoder().encode("quote generation test seed");
const gen = makeQuoteGenerator(spec, seed);
const report = sampleTdreport(spec, 11, {
  tdInfo: {
    attributes: encodeBits(spec.bitfield("TD_ATTRIBUTES").fields, { SEPT_VE_DISABLE: 1n }),
  },
});
const realReport = Deno.readFileSync(
  new URL("../../../fixtures/realdata/tdreports/intel_tdreport_for_test.dat", import.meta.url),
);

const REQUESTS = [
  { name: "v4", request: { version: 4 }, body: "TD_QUOTE_BODY_1_0", bodyType: "TD_REPORT_1_0" },
  {
    name: "v5 TDX 1.0 body",
    request: { version: 5, body: "1.0" as const },
    body: "TD_QUOTE_BODY_1_0",
    bodyType: "TD_REPORT_1_0",
  },
  {
    name: "v5 TDX 1.5 body",
    request: { version: 5 },
    body: "TD_QUOTE_BODY_1_5",
    bodyType: "TD_REPORT_1_5",
  },
];

async function webcryptoVerify(
  point: Uint8Array,
  sig: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  const key = await crypto.subtle.importKey(
    "raw",
    Uint8Array.of(4, ...point),
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["verify"],
  );
  return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, sig.slice(), data.slice());
}

async function sha256(a: Uint8Array, b: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", Uint8Array.of(...a, ...b)));
}

Deno.test("generated quotes decode to the TDREPORT's fields", async (t) => {
  const tdr = codec.decode("TDREPORT_STRUCT", report).value;
  const info = tdr.td_info as DecodedStruct;
  const tcb = tdr.tee_tcb_info as DecodedStruct;
  const mac = tdr.report_mac_struct as DecodedStruct;
  for (const { name, request, body, bodyType } of REQUESTS) {
    await t.step(name, () => {
      const q = gen.generate(report, request);
      assert.ok(q.ok, q.ok ? "" : q.error.message);
      const d = decodeQuote(spec, q.value);
      assert.ok(d.ok, d.ok ? "" : d.error.message);
      const v = d.value;
      assert.equal(v.size, q.value.length);
      assert.equal(v.version, request.version);
      assert.equal(v.bodyStruct, body);
      assert.equal(v.bodyType, enumNumber(spec, "QUOTE_BODY_TYPE", bodyType));
      assert.equal(
        v.header.attestation_key_type,
        enumNumber(spec, "ATTESTATION_KEY_TYPE", "ECDSA_P256"),
      );
      assert.equal(v.header.tee_type, enumNumber(spec, "QUOTE_TEE_TYPE", "TDX"));
      assert.deepEqual(v.header.qe_vendor_id, codec.encode("INTEL_QE_VENDOR_ID", {}));
      for (
        const f of [
          "mr_td",
          "mr_config_id",
          "mr_owner",
          "mr_owner_config",
          "rtmr0",
          "rtmr1",
          "rtmr2",
          "rtmr3",
          "xfam",
        ]
      ) {
        assert.deepEqual(v.body[f], info[f], f);
      }
      assert.equal(v.body.td_attributes, info.attributes);
      assert.deepEqual(v.body.report_data, mac.report_data);
      assert.deepEqual(v.body.tee_tcb_svn, tcb.tee_tcb_svn);
      assert.deepEqual(v.body.mr_seam, tcb.mr_seam);
      assert.deepEqual(v.body.mr_signer_seam, tcb.mr_signer_seam);
      assert.equal(v.body.seam_attributes, tcb.attributes);
      if (body === "TD_QUOTE_BODY_1_5") {
        assert.deepEqual(v.body.tee_tcb_svn2, tcb.tee_tcb_svn2);
        assert.deepEqual(v.body.mr_servicetd, info.servtd_hash);
      }
      assert.equal(
        v.certificationType,
        enumNumber(spec, "CERTIFICATION_DATA_TYPE", "QE_REPORT_CERTIFICATION_DATA"),
      );
      assert.equal(
        v.qeReport!.certificationType,
        enumNumber(spec, "CERTIFICATION_DATA_TYPE", "PCK_CERT_CHAIN"),
      );
      assert.equal(v.pckChainPem, gen.pki.pckChainPem);
      // The generic struct round trip gives the same bytes back.
      const whole = codec.decode(request.version === 4 ? "QUOTE_V4" : "QUOTE_V5", q.value);
      assert.deepEqual(
        codec.encode(request.version === 4 ? "QUOTE_V4" : "QUOTE_V5", whole.value),
        q.value,
      );
    });
  }
});

Deno.test("signatures verify with WebCrypto and the chain with node:crypto", async (t) => {
  for (const { name, request } of REQUESTS) {
    await t.step(name, async () => {
      const q = gen.generate(report, request);
      assert.ok(q.ok);
      const d = decodeQuote(spec, q.value);
      assert.ok(d.ok);
      const v = d.value;
      // (a) the quote signature, with the attestation key in the quote
      assert.ok(await webcryptoVerify(v.attestationKey, v.quoteSignature, v.signedBytes));
      // (b) REPORTDATA of the QE report binds the attestation key and auth data
      const rd = v.qeReport!.report.report_data as Uint8Array;
      assert.deepEqual(rd.subarray(0, 32), await sha256(v.attestationKey, v.qeReport!.authData));
      assert.ok(rd.subarray(32).every((b) => b === 0));
      // (c) the QE report signature, with the PCK leaf's key
      const [leaf, ca, root] = pemToDer(v.pckChainPem!).map((der) => new X509Certificate(der));
      assert.ok(
        await webcryptoVerify(pointOf(leaf), v.qeReport!.reportSignature, v.qeReport!.reportBytes),
      );
      // (d) leaf -> Platform CA -> root, and the root is the test root
      assert.ok(leaf.verify(ca.publicKey));
      assert.ok(ca.verify(root.publicKey));
      assert.ok(root.verify(root.publicKey));
      assert.ok(leaf.checkIssued(ca) && ca.checkIssued(root));
      assert.deepEqual(new Uint8Array(root.raw), gen.pki.root.der);
      // A flipped body byte breaks the quote signature.
      const bad = v.signedBytes.slice();
      bad[fieldOffset(spec, "QUOTE_V4", "body") + 1] ^= 1;
      assert.ok(!(await webcryptoVerify(v.attestationKey, v.quoteSignature, bad)));
      // noble agrees (a cross-check of the same signature, not the proof).
      assert.ok(
        p256.verify(v.quoteSignature, v.signedBytes, Uint8Array.of(4, ...v.attestationKey), {
          lowS: false,
        }),
      );
    });
  }
});

function pointOf(cert: X509Certificate): Uint8Array {
  const jwk = cert.publicKey.export({ format: "jwk" });
  const b = (s: string) =>
    Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  return Uint8Array.of(...b(jwk.x!), ...b(jwk.y!));
}

Deno.test("the PCK leaf carries the test platform's SGX extensions", () => {
  const leaf = pkijs.Certificate.fromBER(gen.pki.pck.der.slice());
  const ext = leaf.extensions!.find((e) => e.extnID === sgxOid(spec))!;
  assert.equal(ext.critical, false);
  const x = decodePckExtension(spec, new Uint8Array(ext.extnValue.valueBlock.valueHexView));
  assert.ok(x.ok);
  assert.deepEqual(x.value, gen.platform.pck);
});

Deno.test("the same seed gives the same bytes; another seed other bytes", () => {
  const again = makeQuoteGenerator(spec, seed.slice());
  for (const { request } of REQUESTS) {
    const a = gen.generate(report, request);
    const b = again.generate(report, request);
    assert.ok(a.ok && b.ok);
    assert.deepEqual(a.value, b.value);
  }
  assert.deepEqual(again.pki.rootCrl, gen.pki.rootCrl);
  const other = makeQuoteGenerator(spec, new TextEncoder().encode("another seed"));
  const c = other.generate(report);
  const a = gen.generate(report);
  assert.ok(a.ok && c.ok);
  assert.notDeepEqual(c.value, a.value);
  assert.notDeepEqual(other.pki.root.der, gen.pki.root.der);
});

Deno.test("the real Intel TDREPORT is quoted with its own measurements", () => {
  const q = gen.generate(realReport, { version: 5 });
  assert.ok(q.ok);
  const d = decodeQuote(spec, q.value);
  assert.ok(d.ok);
  const tdr = codec.decode("TDREPORT_STRUCT", realReport).value;
  assert.deepEqual(d.value.body.mr_td, (tdr.td_info as DecodedStruct).mr_td);
});

Deno.test("bad TDREPORTs and requests are refused with a reason", async (t) => {
  const notTdx = report.slice();
  notTdx[fieldOffset(spec, "TDREPORT_STRUCT", "report_mac_struct")] = enumNumber(
    spec,
    "TEE_TYPE",
    "SGX",
  );
  const alteredInfo = report.slice();
  alteredInfo[
    fieldOffset(spec, "TDREPORT_STRUCT", "td_info") + fieldOffset(spec, "TDINFO_STRUCT", "mr_td")
  ] ^= 1;
  const alteredTcb = report.slice();
  alteredTcb[
    fieldOffset(spec, "TDREPORT_STRUCT", "tee_tcb_info") +
    fieldOffset(spec, "TEE_TCB_INFO", "mr_seam")
  ] ^= 1;
  const cases: [string, Uint8Array, object, string, string][] = [
    ["short report", report.subarray(0, 1000), {}, "truncated", "TDREPORT_STRUCT"],
    ["long report", new Uint8Array([...report, 0]), {}, "invalid", "TDREPORT_STRUCT"],
    ["SGX report", notTdx, {}, "not-tdx", "REPORTTYPE.type"],
    ["TDINFO altered", alteredInfo, {}, "invalid", "REPORTMACSTRUCT.tee_info_hash"],
    ["TEE_TCB_INFO altered", alteredTcb, {}, "invalid", "REPORTMACSTRUCT.tee_tcb_info_hash"],
    ["version 3", report, { version: 3 }, "unsupported", "QUOTE_HEADER.version"],
    ["v4 with a 1.5 body", report, { version: 4, body: "1.5" }, "unsupported", "QUOTE_V4.body"],
  ];
  for (const [name, bytes, request, kind, field] of cases) {
    await t.step(name, () => {
      const r = gen.generate(bytes, request);
      assert.ok(!r.ok);
      assert.equal(r.error.kind, kind);
      assert.equal(r.error.field, field);
    });
  }
  // Without the hash check an altered report is quoted as it is.
  assert.ok(gen.generate(alteredInfo, { checkHashes: false }).ok);
  assert.equal(fieldSize(spec, "TDREPORT_STRUCT", "td_info"), 512);
});
