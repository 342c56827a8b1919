// Why a firmware image cannot be launched, as a value: the kind of problem, the
// spec field at fault (STRUCT.field or STRUCT[i].field) and a sentence for people.

export type FirmwareErrorKind =
  /** No OVMF GUIDed table, or no TDX metadata in it: not a TDVF image. */
  | "not-tdvf"
  /** The metadata points past the end of the image or runs past it. */
  | "truncated"
  /** A value the TDVF rules forbid (signature, version, length, alignment, sizes). */
  | "invalid"
  /** A section type the launcher does not handle. */
  | "bad-section-type"
  /** Two sections cover the same guest memory. */
  | "overlap"
  /** The metadata lacks a section the launch needs (TD_HOB). */
  | "missing-section";

export interface FirmwareError {
  kind: FirmwareErrorKind;
  /** The spec field at fault, e.g. "TDVF_DESCRIPTOR.signature" or "TDVF_SECTION[2].type". */
  field: string;
  /** Byte offset in the image where the field sits, when there is one. */
  offset?: number;
  message: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: FirmwareError };

export function fail(
  kind: FirmwareErrorKind,
  field: string,
  message: string,
  offset?: number,
): { ok: false; error: FirmwareError } {
  return { ok: false, error: { kind, field, message, offset } };
}

export function hex(v: number | bigint): string {
  return `0x${v.toString(16).toUpperCase()}`;
}
