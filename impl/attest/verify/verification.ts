// What a quote verification takes and gives, whatever the quote format.
import type { TrustAnchor } from "./cert_chain.ts";
import type { Collateral } from "./collateral.ts";
import type { CheckOutcome, Reason } from "./reason.ts";
import type { TcbEvaluation } from "./tcb_evaluation.ts";
import type { Expectation } from "./td_policy.ts";

export interface VerifyOptions {
  /** The trust anchor the quote's chain must end at. */
  root: TrustAnchor;
  collateral?: Collateral;
  /** The time certificates, CRLs and collateral must be valid at. */
  at: Date;
  allowDebug: boolean;
  expect: Expectation[];
}

/** Decoded fields by section (header, body, ...), values printable (bytes as hex). */
export type DecodedView = Record<string, Record<string, string | number>>;

export interface QuoteVerification {
  ok: boolean;
  /** The format that handled the quote, or undefined when none recognized it. */
  format: string | undefined;
  formatDescription?: string;
  decoded?: DecodedView;
  checks: CheckOutcome[];
  reasons: Reason[];
  tcb?: TcbEvaluation;
}

/** VerifyOptions as a caller gives them: without a root, the format's default root is used. */
export type VerifyRequest = Omit<VerifyOptions, "root"> & { root?: TrustAnchor };
