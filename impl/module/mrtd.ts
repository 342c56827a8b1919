// MRTD, the TD's build-time measurement: a SHA-384 running over one record per
// TDH.MEM.PAGE.ADD (MEM_PAGE_ADD_RECORD: the API name and the page's GPA) and per
// TDH.MR.EXTEND (MR_EXTEND_RECORD: the API name, the chunk's GPA and its 256 bytes),
// finalised by TDH.MR.FINALIZE. Record layouts and their constant API names come
// from spec/struct.
import { type Spec, theSpec } from "../spec/mod.ts";
import { StructCodec } from "../spec/codec.ts";
import type { TdState } from "./state.ts";

/** The record TDH.MEM.PAGE.ADD measures for the page at `gpa`. */
export function pageAddRecord(spec: Spec, gpa: bigint): Uint8Array {
  return new StructCodec(spec).encode("MEM_PAGE_ADD_RECORD", { gpa });
}

/** The record TDH.MR.EXTEND measures for the 256-byte `chunk` at `gpa`. */
export function extendRecord(spec: Spec, gpa: bigint, chunk: Uint8Array): Uint8Array {
  return new StructCodec(spec).encode("MR_EXTEND_RECORD", { gpa, chunk });
}

/** Absorbs a TDH.MEM.PAGE.ADD of the page at `gpa` into the TD's MRTD. */
export function mrtdPageAdd(td: TdState, gpa: bigint, spec: Spec = theSpec()): void {
  td.mrtdHash.update(pageAddRecord(spec, gpa));
}

/** Absorbs a TDH.MR.EXTEND of the 256-byte `chunk` at `gpa` into the TD's MRTD. */
export function mrtdExtend(
  td: TdState,
  gpa: bigint,
  chunk: Uint8Array,
  spec: Spec = theSpec(),
): void {
  td.mrtdHash.update(extendRecord(spec, gpa, chunk));
}

/** Ends the measurement: MRTD is the SHA-384 digest of every record so far. */
export function mrtdFinalize(td: TdState): Uint8Array {
  td.mrtd = new Uint8Array(td.mrtdHash.digest());
  return td.mrtd;
}
