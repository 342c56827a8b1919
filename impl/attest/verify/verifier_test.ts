import assert from "node:assert/strict";
import { p256 } from "@noble/curves/nist.js";
import { verify as dcapQvlJsVerify } from "@phala/dcap-qvl";
import {
  addCollateralFile,
  type Collateral,
  emptyCollateral,
  intelSgxRoot,
  type QuoteVerification,
  type VerifyOptions,
  verifyQuote,
} from "./mod.ts";
import {
  COLLATERAL_CASES,
  collateralFile,
  DEBUG_TD_QUOTE,
  NO_COLLATERAL,
  PCK_VALID_AT,
  quoteFile,
  SGX_QUOTES,
  TD_QUOTES,
} from "./fixtures_table.ts";
import { parseEcdsaQuote } from "./quote_parse.ts";
import { bytesToHex } from "../../spec/hex.ts";
import { pemCertificates } from "./pem.ts";
import { parseCertificate } from "./x509_cert.ts";

const root = await intelSgxRoot();

function loadCollateral(files: string[]): Collateral {
  const col = emptyCollateral();
  for (const f of files) {
    const r = addCollateralFile(col, f, Deno.readFileSync(collateralFile(f)));
    assert.ok(r.ok, `${f}: ${!r.ok && r.error}`);
  }
  return col;
}

function options(at: string, extra: Partial<VerifyOptions> = {}): VerifyOptions {
  return { root, at: new Date(at), allowDebug: false, expect: [], ...extra };
}

const failing = (
  v: QuoteVerification,
) => [...new Set(v.checks.filter((c) => c.status === "fail").map((c) => c.check))];

Deno.test("every real TD quote verifies to the Intel SGX Root CA (no collateral)", async () => {
  for (const name of TD_QUOTES) {
    const v = await verifyQuote(
      Deno.readFileSync(quoteFile(name)),
      options(PCK_VALID_AT[name], {
        allowDebug: name === DEBUG_TD_QUOTE,
      }),
    );
    assert.deepEqual(v.reasons, [], name);
    assert.ok(v.ok, name);
    assert.equal(v.format, "ecdsa-p256-quote");
    assert.equal(v.checks.find((c) => c.check === "tcb_status")?.status, "skip");
  }
});

Deno.test("each quote's PCK chain ends at the root shipped in impl/attest/roots", () => {
  for (const name of TD_QUOTES) {
    const q = parseEcdsaQuote(Deno.readFileSync(quoteFile(name)));
    assert.ok(q.ok);
    const chain = pemCertificates(new TextDecoder().decode(q.value.pckChainPem))!;
    const last = parseCertificate(chain[chain.length - 1])!;
    assert.equal(bytesToHex(last.spki), bytesToHex(root.cert.spki), name);
  }
});

Deno.test("real quotes with their collateral give Intel's TCB status, as dcap-qvl does", async () => {
  for (const c of COLLATERAL_CASES) {
    const label = `${c.quote} + ${c.collateral.join(" + ")}`;
    const quote = Deno.readFileSync(quoteFile(c.quote));
    const col = loadCollateral(c.collateral);
    const v = await verifyQuote(
      quote,
      options(c.at, { collateral: col, allowDebug: c.allowDebug }),
    );
    assert.deepEqual(
      failing(v).sort(),
      [...c.failing].sort(),
      `${label}: ${JSON.stringify(v.reasons)}`,
    );
    assert.equal(v.ok, c.failing.length === 0, label);
    assert.equal(v.tcb?.status, c.status, label);
    // Cross-check with @phala/dcap-qvl (pure JS) where it can run: it needs both CRLs and
    // does not check certificate validity windows of collateral the way Intel does.
    if (c.failing.every((f) => f === "tcb_level")) {
      const hex = (b: Uint8Array) => bytesToHex(b);
      const crls = col.crls.map((x) => hex(x.der));
      const chainPem = new TextDecoder().decode(
        Deno.readFileSync(collateralFile("certs/derived_intel_sgx_tcb_signing.pem")),
      ) +
        new TextDecoder().decode(Deno.readFileSync(collateralFile("certs/gotdx_trusted_root.pem")));
      const peer = {
        tcb_info: col.tcbInfo!.text,
        tcb_info_signature: hex(col.tcbInfo!.signature),
        tcb_info_issuer_chain: chainPem,
        qe_identity: col.qeIdentity!.text,
        qe_identity_signature: hex(col.qeIdentity!.signature),
        qe_identity_issuer_chain: chainPem,
        pck_crl_issuer_chain: "",
        root_ca_crl: crls[0] ??
          hex(Deno.readFileSync(collateralFile("gotdx_rootcrl.der"))),
        pck_crl: crls[1] ?? hex(Deno.readFileSync(collateralFile("gotdx_pckcrl"))),
      };
      let peerStatus: string;
      try {
        peerStatus = dcapQvlJsVerify(quote, peer, new Date(c.at).getTime() / 1000).status;
      } catch (e) {
        peerStatus = `error: ${(e as Error).message}`;
      }
      assert.equal(
        peerStatus,
        c.status ?? "error: No matching TCB level found",
        `${label}: dcap-qvl says ${peerStatus}`,
      );
    }
  }
});

Deno.test("quotes without matching collateral verify without it", async () => {
  for (const name of NO_COLLATERAL) {
    const v = await verifyQuote(Deno.readFileSync(quoteFile(name)), options(PCK_VALID_AT[name]));
    assert.ok(v.ok, name);
    assert.equal(v.tcb, undefined);
  }
});

Deno.test("the debug TD verifies only with allowDebug", async () => {
  const quote = Deno.readFileSync(quoteFile(DEBUG_TD_QUOTE));
  const at = PCK_VALID_AT[DEBUG_TD_QUOTE];
  const refused = await verifyQuote(quote, options(at));
  assert.equal(refused.ok, false);
  assert.deepEqual(refused.reasons.map((r) => [r.check, r.field]), [[
    "debug",
    "body.td_attributes.DEBUG",
  ]]);
  assert.ok((await verifyQuote(quote, options(at, { allowDebug: true }))).ok);
  // It is the only debug TD among the real quotes.
  for (const name of TD_QUOTES.filter((n) => n !== DEBUG_TD_QUOTE)) {
    const v = await verifyQuote(Deno.readFileSync(quoteFile(name)), options(PCK_VALID_AT[name]));
    assert.ok(!v.reasons.some((r) => r.check === "debug"), name);
  }
});

Deno.test("SGX quotes are refused as not TDX", async () => {
  for (const name of SGX_QUOTES) {
    const v = await verifyQuote(
      Deno.readFileSync(quoteFile(name)),
      options("2025-06-20T00:00:00Z"),
    );
    assert.equal(v.ok, false);
    assert.equal(v.reasons.length, 1);
    assert.equal(v.reasons[0].check, "format");
    assert.equal(v.reasons[0].field, "header.tee_type");
    assert.match(v.reasons[0].message, /not a TD quote/);
  }
});

Deno.test("expected values: matches pass, differences are reasons with both values", async () => {
  const name = "dcapqvl_tdx_quote.dat";
  const quote = Deno.readFileSync(quoteFile(name));
  const q = parseEcdsaQuote(quote);
  assert.ok(q.ok);
  const body = q.value.body;
  const good = [
    { key: "mrtd", value: bytesToHex(body.mr_td as Uint8Array) },
    { key: "rtmr0", value: bytesToHex(body.rtmr0 as Uint8Array) },
    { key: "report_data", value: bytesToHex(body.report_data as Uint8Array) },
    { key: "td_attributes", value: "0x10000000" },
    { key: "tcb_status", value: "UpToDate" },
  ];
  const col = loadCollateral(["dcapqvl_tdx_quote_collateral.json"]);
  const at = "2025-06-20T00:00:00Z";
  assert.ok((await verifyQuote(quote, options(at, { collateral: col, expect: good }))).ok);
  const bad = await verifyQuote(
    quote,
    options(at, {
      expect: [{ key: "rtmr1", value: "00" }, { key: "xfam", value: "0x3" }, {
        key: "tcb_status",
        value: "UpToDate",
      }],
    }),
  );
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.reasons.map((r) => [r.check, r.field, r.expected]), [
    ["expect", "body.rtmr1", "00"],
    ["expect", "body.xfam", "0x3"],
    ["expect", "tcb_status", "UpToDate"],
  ]);
  assert.equal(bad.reasons[0].actual, bytesToHex(body.rtmr1 as Uint8Array));
});

Deno.test("verification time: before the PCK leaf was issued, the chain fails", async () => {
  const v = await verifyQuote(
    Deno.readFileSync(quoteFile("gotdx_quote_v5_sample.dat")),
    options("2020-01-01T00:00:00Z"),
  );
  assert.equal(v.ok, false);
  assert.deepEqual(failing(v), ["pck_chain"]);
  assert.match(v.reasons[0].message, /not valid at/);
});

Deno.test("collateral outside its validity window is refused", async () => {
  const col = loadCollateral(["dcapqvl_tdx_quote_collateral.json"]);
  const v = await verifyQuote(
    Deno.readFileSync(quoteFile("dcapqvl_tdx_quote.dat")),
    options("2025-08-01T00:00:00Z", { collateral: col }),
  );
  assert.equal(v.ok, false);
  const fields = v.reasons.map((r) => r.field);
  assert.ok(fields.includes("tcbInfo issueDate..nextUpdate"), JSON.stringify(v.reasons));
  assert.ok(fields.includes("enclaveIdentity issueDate..nextUpdate"));
  assert.ok(v.reasons.some((r) => r.check === "crl" && /expired/.test(r.message)));
});

Deno.test("the quote signature also verifies with @noble/curves (cross-check)", () => {
  for (const name of TD_QUOTES) {
    const q = parseEcdsaQuote(Deno.readFileSync(quoteFile(name)));
    assert.ok(q.ok);
    const key = new Uint8Array(1 + q.value.attestationKey.length);
    key[0] = 4; // SEC1 uncompressed point
    key.set(q.value.attestationKey, 1);
    assert.ok(p256.verify(q.value.signature, q.value.signedBytes, key, { lowS: false }), name);
  }
});

Deno.test("a wrong root refuses every chain", async () => {
  const dice = await Deno.readFile(collateralFile("certs/gotdx_trusted_dice_root.pem"));
  const { trustAnchorFromBytes } = await import("./trust_root.ts");
  const other = await trustAnchorFromBytes(dice);
  // The DICE root (P-384) loads as a trust anchor, but no PCK chain leads to it.
  assert.equal(typeof other, "object");
  for (const name of TD_QUOTES) {
    const v = await verifyQuote(Deno.readFileSync(quoteFile(name)), {
      ...options(PCK_VALID_AT[name], { allowDebug: true }),
      root: other as VerifyOptions["root"],
    });
    assert.equal(v.ok, false, name);
    assert.ok(failing(v).includes("pck_chain"), name);
  }
});
