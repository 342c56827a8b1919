// The GPA list the page-migration leaves (TDH.EXPORT.MEM, TDH.EXPORT.RESTORE,
// TDH.IMPORT.MEM) walk: GPA_LIST_INFO (RCX) checks, each entry's read, validity and
// write-back with an operation and GPA_LIST_ENTRY_STATUS, and the RCX written on every
// exit with FIRST_ENTRY where the call stopped.
import { decodeBits, encodeBits } from "../../spec/bits.ts";
import type { LeafContext } from "../leaf_context.ts";
import { checkPrivateGpa, type SeptGeometry } from "../sept.ts";
import { sharedPageInvalid } from "./operands.ts";

export interface GpaListInfo {
  fields: Record<string, bigint>;
  pa: bigint;
  first: number;
  last: number;
}

export function readGpaListInfo(ctx: LeafContext, input = "gpa_list_info"): GpaListInfo {
  const fields = decodeBits(ctx.spec.bitfield("GPA_LIST_INFO").fields, ctx.in(input)).fields;
  return {
    fields,
    pa: fields.hpa << 12n,
    first: Number(fields.first_entry),
    last: Number(fields.last_entry),
  };
}

/** check_and_map_gpa_list: format, reserved bits, FIRST <= LAST, a shared 4 KiB page. */
export function gpaListInfoInvalid(ctx: LeafContext, info: GpaListInfo): boolean {
  const f = info.fields;
  return f.reserved_54_52 !== 0n ||
    f.format > ctx.spec.enumValue("GPA_LIST_FORMAT", "GPA_ONLY") ||
    f.first_entry > f.last_entry || sharedPageInvalid(ctx, info.pa);
}

/** GPA_LIST_INFO with FIRST_ENTRY `entry` (a 9-bit field: one past 511 wraps to 0). */
export function gpaListInfoAt(ctx: LeafContext, info: GpaListInfo, entry: number): bigint {
  return encodeBits(ctx.spec.bitfield("GPA_LIST_INFO").fields, {
    ...info.fields,
    first_entry: BigInt(entry & 0x1FF),
  });
}

/** One decoded entry; `raw` fields are the GPA_LIST_ENTRY bitfield. */
export type GpaListEntry = Record<string, bigint>;

export function readEntry(ctx: LeafContext, listPa: bigint, i: number): GpaListEntry {
  const b = ctx.cpu.memory.read(listPa + BigInt(8 * i), 8);
  const raw = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  return decodeBits(ctx.spec.bitfield("GPA_LIST_ENTRY").fields, raw).fields;
}

export function writeEntry(ctx: LeafContext, listPa: bigint, i: number, e: GpaListEntry): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(
    0,
    encodeBits(ctx.spec.bitfield("GPA_LIST_ENTRY").fields, e),
    true,
  );
  ctx.cpu.memory.write(listPa + BigInt(8 * i), b);
}

/** The entry's 8 bytes as the module holds them (the AAD of a page's MAC). */
export function entryBytes(ctx: LeafContext, e: GpaListEntry): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(
    0,
    encodeBits(ctx.spec.bitfield("GPA_LIST_ENTRY").fields, e),
    true,
  );
  return b;
}

export function entryOp(ctx: LeafContext, name: string): bigint {
  return ctx.spec.enumValue("GPA_LIST_ENTRY_OPERATION", name);
}

export function entryStatus(ctx: LeafContext, name: string): bigint {
  return ctx.spec.enumValue("GPA_LIST_ENTRY_STATUS", name);
}

/** gpa_list_entry_is_valid: reserved bits clear and level 0 (4 KiB). */
export function entryWellFormed(e: GpaListEntry): boolean {
  return e.reserved_6_3 === 0n && e.reserved_55_54 === 0n && e.reserved_63_61 === 0n &&
    e.level === 0n;
}

/** check_and_get_gpa_from_entry: the entry's private GPA, or undefined when invalid. */
export function entryGpa(g: SeptGeometry, e: GpaListEntry): bigint | undefined {
  const gpa = e.gpa << 12n;
  return entryWellFormed(e) && checkPrivateGpa(g, gpa) ? gpa : undefined;
}

/** NOP or CANCEL (operation bit 0 clear): no export of a page. */
export function isCancelOrNop(ctx: LeafContext, e: GpaListEntry): boolean {
  return (e.operation & entryOp(ctx, "MIGRATE")) === 0n;
}
