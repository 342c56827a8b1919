// Why attestation evidence (an event log, a quote, a QGS message) cannot be used, as a
// value: the kind of problem, the spec field at fault and a sentence for people.
import { CodecError } from "../spec/codec.ts";

export type AttestErrorKind =
  /** The input ends before a structure it announces. */
  | "truncated"
  /** A value the format forbids (magic, version, size, checksum, enum). */
  | "invalid"
  /** Well-formed, but evidence of another TEE (SGX quote, SM3 log, SEV table). */
  | "not-tdx"
  /** Well-formed and TDX, but a variant this code does not handle. */
  | "unsupported";

export interface AttestError {
  kind: AttestErrorKind;
  /** The spec field at fault, e.g. "CCEL_ACPI_TABLE.checksum" or "QUOTE_HEADER.version". */
  field: string;
  /** Byte offset in the input where the problem sits, when there is one. */
  offset?: number;
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: AttestError };

export function fail(
  kind: AttestErrorKind,
  field: string,
  message: string,
  offset?: number,
): { ok: false; error: AttestError } {
  return {
    ok: false,
    error: offset === undefined ? { kind, field, message } : { kind, field, message, offset },
  };
}

/**
 * Runs a codec decode and turns its CodecError into an error value: a short input is
 * "truncated", a fixed-value mismatch "invalid". `base` is where the decoded slice
 * starts in the whole input, so offsets point into the caller's bytes.
 */
export function decoding<T>(base: number, run: () => T): Result<T> {
  try {
    return { ok: true, value: run() };
  } catch (e) {
    if (e instanceof CodecError) {
      const short = /needs \d+ bytes/.test(e.message);
      return fail(
        short ? "truncated" : "invalid",
        `${e.structName}${e.field ? `.${e.field}` : ""}`,
        e.message,
        base + e.offset,
      );
    }
    if (e instanceof RangeError) return fail("invalid", "input", e.message, base);
    throw e;
  }
}

export function hex(v: number | bigint): string {
  return `0x${v.toString(16).toUpperCase()}`;
}
