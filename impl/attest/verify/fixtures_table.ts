// The real quotes and collateral in fixtures/realdata paired as PROVENANCE.md's
// "Collateral <-> quotes by FMSPC" table pairs them, with a verification time inside the
// collateral's validity and the outcome Intel's algorithm gives (cross-checked against
// @phala/dcap-qvl in verifier_test.ts). For tests and benchmarks only.

export const REALDATA = new URL("../../../fixtures/realdata/", import.meta.url);
export const quoteFile = (name: string) => new URL(`quotes/${name}`, REALDATA);
export const collateralFile = (name: string) =>
  name.startsWith("certs/") ? new URL(name, REALDATA) : new URL(`collateral/${name}`, REALDATA);

/** Every TD quote (binary) in fixtures/realdata/quotes. */
export const TD_QUOTES = [
  "dcapqvl_near_quote.hexdecoded.dat",
  "dcapqvl_quote-from-tappd.hexdecoded.dat",
  "dcapqvl_tdx-quote.hexdecoded.dat",
  "dcapqvl_tdx_quote.dat",
  "dcapqvl_tdx_quote_outdated.dat",
  "gotdx_cos113_tdx_quote.dat",
  "gotdx_quote_v5_sample.dat",
  "gotdx_tdx_prod_quote_SPR_E4.dat",
  "trustee_az_tdx_vtpm_td-quote.bin",
  "trustee_old_AAEL_quote_tdx.dat",
  "trustee_tdx_quote_4.dat",
  "trustee_tdx_quote_5.dat",
  "trustee_tdx_quote_6.dat",
];

export const SGX_QUOTES = ["dcapqvl_sgx_quote.dat", "trustee_occlum_quote_sgx.dat"];

/** The one debug TD among them (TD_ATTRIBUTES.DEBUG set). */
export const DEBUG_TD_QUOTE = "trustee_tdx_quote_4.dat";

/** A time at which each quote's PCK chain is valid (the leaves are issued at different dates). */
export const PCK_VALID_AT: Record<string, string> = {
  "dcapqvl_near_quote.hexdecoded.dat": "2025-09-10T00:00:00Z",
  "dcapqvl_quote-from-tappd.hexdecoded.dat": "2025-06-20T00:00:00Z",
  "dcapqvl_tdx-quote.hexdecoded.dat": "2025-06-20T00:00:00Z",
  "dcapqvl_tdx_quote.dat": "2025-06-20T00:00:00Z",
  "dcapqvl_tdx_quote_outdated.dat": "2026-02-20T00:00:00Z",
  "gotdx_cos113_tdx_quote.dat": "2025-06-20T00:00:00Z",
  "gotdx_quote_v5_sample.dat": "2026-02-20T00:00:00Z",
  "gotdx_tdx_prod_quote_SPR_E4.dat": "2023-06-20T00:00:00Z",
  "trustee_az_tdx_vtpm_td-quote.bin": "2025-06-20T00:00:00Z",
  "trustee_old_AAEL_quote_tdx.dat": "2025-06-20T00:00:00Z",
  "trustee_tdx_quote_4.dat": "2023-06-20T00:00:00Z",
  "trustee_tdx_quote_5.dat": "2025-06-20T00:00:00Z",
  "trustee_tdx_quote_6.dat": "2025-11-01T00:00:00Z",
};

/** Intel SGX TCB Signing certificate then root: the issuer chain PCS sends in a header. */
export const TCB_SIGNING_CHAIN = [
  "certs/derived_intel_sgx_tcb_signing.pem",
  "certs/gotdx_trusted_root.pem",
];

export interface CollateralCase {
  quote: string;
  collateral: string[];
  at: string;
  allowDebug?: boolean;
  /** The TCB status the verification reports, when it computes one. */
  status?: string;
  /** The checks that fail; empty when the quote verifies. */
  failing: string[];
}

const GOTDX_2023 = [
  "gotdx_sample_tcbInfo_response.json",
  "gotdx_sample_qeIdentity_response.json",
  ...TCB_SIGNING_CHAIN,
  "gotdx_pckcrl",
  "gotdx_rootcrl.der",
];

export const COLLATERAL_CASES: CollateralCase[] = [
  {
    quote: "dcapqvl_tdx_quote.dat",
    collateral: ["dcapqvl_tdx_quote_collateral.json"],
    at: "2025-06-20T00:00:00Z",
    status: "UpToDate",
    failing: [],
  },
  {
    quote: "dcapqvl_near_quote.hexdecoded.dat",
    collateral: ["dcapqvl_near_quote_collateral.json"],
    at: "2025-09-10T00:00:00Z",
    status: "UpToDate",
    failing: [],
  },
  {
    quote: "gotdx_quote_v5_sample.dat",
    collateral: ["dcapqvl_tdx_quote_outdated_collateral.json"],
    at: "2026-02-20T00:00:00Z",
    status: "UpToDate",
    failing: [],
  },
  {
    // go-tdx-guest's TDX 1.5 TCB info (PCS response) with the same platform's QE identity.
    quote: "gotdx_quote_v5_sample.dat",
    collateral: [
      "dcapqvl_tdx_quote_outdated_collateral.json",
      "gotdx_sample_tcbinfo_response_v5.json",
    ],
    at: "2026-02-20T00:00:00Z",
    status: "UpToDate",
    failing: [],
  },
  {
    quote: "trustee_tdx_quote_6.dat",
    collateral: ["trustee_tcbInfo.json", "trustee_enclaveIdentity.json", ...TCB_SIGNING_CHAIN],
    at: "2025-11-01T00:00:00Z",
    status: "OutOfDate",
    failing: [],
  },
  // Same FMSPC, but the PCK certificate's SGX TCB (component 8, the SEAMLDR ACM SVN, or
  // components 1-2) is below every TCB level of that collateral: TCB not supported.
  {
    quote: "dcapqvl_tdx-quote.hexdecoded.dat",
    collateral: ["dcapqvl_tdx_quote_collateral.json"],
    at: "2025-06-20T00:00:00Z",
    failing: ["tcb_level"],
  },
  {
    quote: "dcapqvl_quote-from-tappd.hexdecoded.dat",
    collateral: ["dcapqvl_tdx_quote_collateral.json"],
    at: "2025-06-20T00:00:00Z",
    failing: ["tcb_level"],
  },
  {
    quote: "dcapqvl_tdx_quote_outdated.dat",
    collateral: ["dcapqvl_tdx_quote_outdated_collateral.json"],
    at: "2026-02-20T00:00:00Z",
    failing: ["tcb_level"],
  },
  {
    quote: "trustee_tdx_quote_5.dat",
    collateral: ["dcapqvl_tdx_quote_outdated_collateral.json"],
    at: "2026-02-20T00:00:00Z",
    failing: ["tcb_level"],
  },
  // go-tdx-guest's 2023 PCS responses: the only TCB Signing certificate available was
  // issued in 2025, after they expired, so the collateral check fails at any time; the
  // TCB status is still computed.
  {
    quote: "trustee_tdx_quote_4.dat",
    collateral: GOTDX_2023,
    at: "2023-06-20T00:00:00Z",
    allowDebug: true,
    status: "UpToDate",
    failing: ["collateral"],
  },
  {
    quote: "gotdx_tdx_prod_quote_SPR_E4.dat",
    collateral: GOTDX_2023,
    at: "2023-06-20T00:00:00Z",
    failing: ["collateral", "tcb_level"],
  },
  {
    // A TDX module of major version 1, but TCB info #15 has no TDX module identities.
    quote: "trustee_old_AAEL_quote_tdx.dat",
    collateral: GOTDX_2023,
    at: "2023-06-20T00:00:00Z",
    failing: ["pck_chain", "collateral", "tdx_module"],
  },
];

/** Quotes whose FMSPC no collateral in the fixtures matches: verified without collateral. */
export const NO_COLLATERAL = ["gotdx_cos113_tdx_quote.dat", "trustee_az_tdx_vtpm_td-quote.bin"];
