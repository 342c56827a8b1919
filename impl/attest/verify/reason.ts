// A failed check as a value: which check, which field, what was expected and what was
// found. Every verifier failure is one of these; nothing is thrown across the API.

/** The checks a quote verification performs, in the order they are reported. */
export type CheckName =
  | "format"
  | "parse"
  | "quote_signature"
  | "qe_report_signature"
  | "qe_report_data"
  | "pck_chain"
  /** The certificate chain of a DICE quote, to the DICE root. */
  | "dice_chain"
  | "crl"
  | "collateral"
  | "tcb_info"
  | "qe_identity"
  | "tdx_module"
  | "tcb_level"
  | "tcb_status"
  | "debug"
  | "expect";

export interface Reason {
  check: CheckName;
  field?: string;
  expected?: string;
  actual?: string;
  message: string;
}

export function reason(
  check: CheckName,
  message: string,
  detail: { field?: string; expected?: string; actual?: string } = {},
): Reason {
  const r: Reason = { check, message };
  if (detail.field !== undefined) r.field = detail.field;
  if (detail.expected !== undefined) r.expected = detail.expected;
  if (detail.actual !== undefined) r.actual = detail.actual;
  return r;
}

/** One line of the check list: what ran and whether it passed, or why it was skipped. */
export interface CheckOutcome {
  check: CheckName;
  status: "pass" | "fail" | "skip";
  note?: string;
}

/** Either a value or the reasons it could not be had. */
export type Result<T> = { ok: true; value: T } | { ok: false; reasons: Reason[] };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T>(...reasons: Reason[]): Result<T> {
  return { ok: false, reasons };
}
