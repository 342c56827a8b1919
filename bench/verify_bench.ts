// Quote verifications per second on a real TD quote with its collateral
// (fixtures/realdata: dcapqvl_tdx_quote.dat + dcapqvl_tdx_quote_collateral.json, at a time
// inside the collateral's validity), beside Phala's dcap-qvl in pure JS and in WASM on the
// same input. Run: deno task bench (or deno bench -A bench/verify_bench.ts).
import { verify as dcapQvlJsVerify } from "@phala/dcap-qvl";
import initDcapQvlWasm, { js_verify as dcapQvlWasmVerify } from "@phala/dcap-qvl-web";
import {
  addCollateralFile,
  clearVerificationCaches,
  emptyCollateral,
  intelSgxRoot,
  verifyQuote,
} from "../impl/attest/verify/mod.ts";

const DATA = new URL("../fixtures/realdata/", import.meta.url);
const quote = await Deno.readFile(new URL("quotes/dcapqvl_tdx_quote.dat", DATA));
const collateralBytes = await Deno.readFile(
  new URL("collateral/dcapqvl_tdx_quote_collateral.json", DATA),
);
const collateralJson = JSON.parse(new TextDecoder().decode(collateralBytes));
const at = new Date("2025-06-20T00:00:00Z");
const nowSecs = at.getTime() / 1000;

const root = await intelSgxRoot();
const collateral = emptyCollateral();
const loaded = addCollateralFile(collateral, "dcapqvl_tdx_quote_collateral.json", collateralBytes);
if (!loaded.ok) throw new Error(loaded.error);
const options = { root, collateral, at, allowDebug: false, expect: [] };

// Every contender must agree before it is timed.
const ours = await verifyQuote(quote, options);
if (!ours.ok || ours.tcb?.status !== "UpToDate") throw new Error("our verifier rejected the quote");
if (dcapQvlJsVerify(quote, collateralJson, nowSecs).status !== "UpToDate") {
  throw new Error("dcap-qvl (JS) rejected the quote");
}
await initDcapQvlWasm();
if (dcapQvlWasmVerify(quote, collateralJson, BigInt(nowSecs)).status !== "UpToDate") {
  throw new Error("dcap-qvl-web (WASM) rejected the quote");
}

Deno.bench({
  name: "this suite: verifyQuote (collateral and PCK chain checked once, then cached)",
  group: "verify",
  baseline: true,
  async fn() {
    const r = await verifyQuote(quote, options);
    if (!r.ok) throw new Error("verification failed");
  },
});

Deno.bench({
  name: "this suite: verifyQuote, PCK chain not cached (a new platform every time)",
  group: "verify",
  async fn() {
    clearVerificationCaches("platform");
    const r = await verifyQuote(quote, options);
    if (!r.ok) throw new Error("verification failed");
  },
});

Deno.bench({
  name: "this suite: verifyQuote, every cache cleared first (cold)",
  group: "verify",
  async fn() {
    clearVerificationCaches();
    const fresh = emptyCollateral();
    addCollateralFile(fresh, "collateral", collateralBytes);
    const r = await verifyQuote(quote, { ...options, collateral: fresh });
    if (!r.ok) throw new Error("verification failed");
  },
});

Deno.bench({
  name: "@phala/dcap-qvl 0.3.9 (pure JS): verify",
  group: "verify",
  fn() {
    dcapQvlJsVerify(quote, collateralJson, nowSecs);
  },
});

Deno.bench({
  name: "@phala/dcap-qvl-web 0.3.3 (WASM): js_verify",
  group: "verify",
  fn() {
    dcapQvlWasmVerify(quote, collateralJson, BigInt(nowSecs));
  },
});
