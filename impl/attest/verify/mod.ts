// TD quote verification: parse and verify an ECDSA-P256 TD quote (v4/v5) against the
// Intel SGX Root CA and, with collateral, compute its TCB status as Intel's QVL does; or a
// DICE quote (TDX Quoting extension, CBOR COSE_Sign1, ES384) against the DCP DICE Global
// Root CA.
export { detectQuoteFormat, quoteFormats, registerQuoteFormat, verifyQuote } from "./formats.ts";
export type { QuoteFormat } from "./formats.ts";
export type {
  DecodedView,
  QuoteVerification,
  VerifyOptions,
  VerifyRequest,
} from "./verification.ts";
export type { CheckName, CheckOutcome, Reason } from "./reason.ts";
export { addCollateralFile, collateralFromDcapQvl, emptyCollateral } from "./collateral.ts";
export type { Collateral } from "./collateral.ts";
export { DEFAULT_ROOT_URL, intelSgxRoot, trustAnchorFromBytes } from "./trust_root.ts";
export { dcpDiceRoot, DICE_ROOT_URL } from "./dice/dice_trust_root.ts";
export type { TrustAnchor } from "./cert_chain.ts";
export { expectableKeys, parseExpectations } from "./td_policy.ts";
export type { Expectation } from "./td_policy.ts";
export type { TcbEvaluation } from "./tcb_evaluation.ts";
export type { TcbStatus } from "./tcb_status.ts";
export { renderHuman, renderJson } from "./render.ts";
export { clearVerificationCaches } from "./memo_cache.ts";
