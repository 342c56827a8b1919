// What a memory bundle (TDH.EXPORT.MEM / TDH.IMPORT.MEM) keeps across an interruption,
// beside the stream's InterruptedState: the other list operands a resumption must
// repeat and the migration epoch the bundle belongs to. Keyed by the InterruptedState
// object, so anything that clears the stream's interrupted state invalidates it too.
import type { LeafContext } from "../leaf_context.ts";
import { decodeBits, encodeBits } from "../../spec/bits.ts";
import type { InterruptedState } from "./session.ts";

export interface MemInterrupt {
  migBuffList: bigint;
  macLists: [bigint, bigint];
  epoch: bigint;
  newPageList?: bigint;
}

const extras = new WeakMap<InterruptedState, MemInterrupt>();

export function saveMemInterrupt(s: InterruptedState, x: MemInterrupt): InterruptedState {
  extras.set(s, x);
  return s;
}

export function memInterruptOf(s: InterruptedState): MemInterrupt | undefined {
  return extras.get(s);
}

/** MACs of entries 0-255 go to the first MAC list page, 256-511 to the second. */
export const MAC_LIST_ENTRIES = 256;

/** A PAGE_LIST_ENTRY of a migration-buffer (or new-page) list. */
export interface PageListEntry {
  fields: Record<string, bigint>;
  pa: bigint;
  invalid: boolean;
}

export function readPageListEntry(ctx: LeafContext, listPa: bigint, i: number): PageListEntry {
  const b = ctx.cpu.memory.read(listPa + BigInt(8 * i), 8);
  const raw = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  const fields = decodeBits(ctx.spec.bitfield("PAGE_LIST_ENTRY").fields, raw).fields;
  return { fields, pa: fields.hpa << 12n, invalid: fields.invalid === 1n };
}

/** Writes entry `i` back with its INVALID bit. */
export function writePageListInvalid(
  ctx: LeafContext,
  listPa: bigint,
  i: number,
  e: PageListEntry,
): void {
  const b = new Uint8Array(8);
  const raw = encodeBits(ctx.spec.bitfield("PAGE_LIST_ENTRY").fields, {
    ...e.fields,
    invalid: e.invalid ? 1n : 0n,
  });
  new DataView(b.buffer).setBigUint64(0, raw, true);
  ctx.cpu.memory.write(listPa + BigInt(8 * i), b);
}

/** Where entry `i`'s 16-byte MAC lives. */
export function macSlot(macLists: [bigint, bigint], i: number): bigint {
  return macLists[(i >> 8) & 1] + BigInt(16 * (i & 0xFF));
}
