// The TD's RAM as the launcher describes it to TDVF: ranges of guest physical memory,
// each either still unaccepted (the TD accepts it later) or already added by the
// VMM before the TD starts (the TDVF TD_HOB and TEMP_MEM sections). Splitting follows
// QEMU's tdx_accept_ram_range: an added range must lie inside one RAM range, which
// is cut into head, added part and tail.
import { hex } from "./firmware_error.ts";

export interface RamEntry {
  address: bigint;
  length: bigint;
  added: boolean;
}

const GIB = 1n << 30n;
/** Where RAM above the 32-bit PCI hole starts. */
const HIGH_RAM_BASE = 4n * GIB;
/** Largest amount of RAM the launcher places below 4 GiB (a model choice, like a PC's). */
const LOW_RAM_MAX = 2n * GIB;

/** RAM ranges for `bytes` of guest memory: up to 2 GiB from 0, the rest from 4 GiB. */
export function ramEntries(bytes: bigint): RamEntry[] {
  const low = bytes < LOW_RAM_MAX ? bytes : LOW_RAM_MAX;
  const out: RamEntry[] = [{ address: 0n, length: low, added: false }];
  if (bytes > low) out.push({ address: HIGH_RAM_BASE, length: bytes - low, added: false });
  return out;
}

/** Marks [address, address + length) as added; an error string when no RAM range holds it. */
export function markAdded(
  entries: RamEntry[],
  address: bigint,
  length: bigint,
): string | undefined {
  const end = address + length;
  const e = entries.find((x) => address < x.address + x.length && end > x.address);
  if (!e || e.address > address || e.address + e.length < end) {
    return `guest range ${hex(address)}..${hex(end)} is not inside one RAM range`;
  }
  if (e.added) return undefined;
  const head = { address: e.address, length: address - e.address, added: false };
  const tail = { address: end, length: e.address + e.length - end, added: false };
  e.address = address;
  e.length = length;
  e.added = true;
  if (head.length > 0n) entries.push(head);
  if (tail.length > 0n) entries.push(tail);
  return undefined;
}

export function sortByAddress(entries: RamEntry[]): RamEntry[] {
  return entries.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/**
 * The TD's RAM map for the HOB: every RAM range unaccepted except the TDVF sections
 * the VMM adds that live in RAM (TD_HOB and TEMP_MEM; the firmware volumes sit in
 * the flash range below 4 GiB, outside RAM). Sorted by address.
 */
export function tdRamMap(
  sections: readonly {
    typeName: string;
    memoryAddress: bigint;
    memoryDataSize: bigint;
    index: number;
  }[],
  memoryBytes: bigint,
): { ok: true; entries: RamEntry[] } | { ok: false; section: number; message: string } {
  const entries = ramEntries(memoryBytes);
  for (const s of sections) {
    if (s.typeName !== "TD_HOB" && s.typeName !== "TEMP_MEM") continue;
    const e = markAdded(entries, s.memoryAddress, s.memoryDataSize);
    if (e) return { ok: false, section: s.index, message: e };
  }
  return { ok: true, entries: sortByAddress(entries) };
}
