// How a host lays TDX memory out from the CMRs, as Linux does: TDMRs are the CMRs rounded
// out to 1 GiB (CMRs in the same GiB share a TDMR), the parts of a TDMR that are not
// convertible are reserved areas, and the PAMTs of every TDMR sit in one block at the top
// of the first CMR, reserved in the TDMR that holds it. Also a page allocator over the
// usable TDMR memory.
import type { MemoryRange } from "../../cpu/cpu.ts";

const GiB = 1n << 30n;
const PAGE = 4096n;
/** PAMT entry size of the modelled module (TDX_MODULE_PLATFORM_LIMITS.PAMT_ENTRY_SIZE). */
export interface LayoutLimits {
  pamtEntrySize: bigint;
  maxReservedPerTdmr: number;
}

export interface PlannedTdmr {
  base: bigint;
  size: bigint;
  pamt1g: MemoryRange;
  pamt2m: MemoryRange;
  pamt4k: MemoryRange;
  reserved: MemoryRange[];
}

const up = (v: bigint, a: bigint) => ((v + a - 1n) / a) * a;
const down = (v: bigint, a: bigint) => (v / a) * a;

function pamtSizes(size: bigint, entry: bigint): [bigint, bigint, bigint] {
  return [
    up((size / GiB) * entry, PAGE),
    up((size / (2n << 20n)) * entry, PAGE),
    up((size / PAGE) * entry, PAGE),
  ];
}

/** Merges sorted ranges that touch or overlap. */
function merge(ranges: MemoryRange[]): MemoryRange[] {
  const sorted = [...ranges].filter((r) => r.size > 0n).sort((a, b) =>
    a.base < b.base ? -1 : a.base > b.base ? 1 : 0
  );
  const out: MemoryRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.base <= last.base + last.size) {
      const end = r.base + r.size > last.base + last.size ? r.base + r.size : last.base + last.size;
      last.size = end - last.base;
    } else out.push({ ...r });
  }
  return out;
}

export function planTdmrs(cmrs: MemoryRange[], limits: LayoutLimits): PlannedTdmr[] {
  const spans = merge(
    cmrs.filter((c) => c.size > 0n).map((c) => {
      const base = down(c.base, GiB);
      return { base, size: up(c.base + c.size, GiB) - base };
    }),
  );
  const tdmrs = spans.map((s) => {
    const [g1, m2, k4] = pamtSizes(s.size, limits.pamtEntrySize);
    return { ...s, sizes: [g1, m2, k4] };
  });
  // One PAMT block for all TDMRs, at the top of the first CMR.
  const total = tdmrs.reduce((acc, t) => acc + t.sizes[0] + t.sizes[1] + t.sizes[2], 0n);
  const first = cmrs.find((c) => c.size > 0n)!;
  const blockEnd = down(first.base + first.size, PAGE);
  let at = down(blockEnd - total, 2n << 20n);
  if (at < first.base) throw new Error("the first CMR is too small for the PAMTs");
  const block: MemoryRange = { base: at, size: blockEnd - at };
  return tdmrs.map((t) => {
    const [g1, m2, k4] = t.sizes;
    const pamt1g = { base: at, size: g1 };
    const pamt2m = { base: at + g1, size: m2 };
    const pamt4k = { base: at + g1 + m2, size: k4 };
    at += g1 + m2 + k4;
    // Reserved: every non-convertible part of the TDMR, and the PAMT block if it is inside.
    const holes: MemoryRange[] = [];
    let cursor = t.base;
    for (const c of merge(cmrs)) {
      if (c.base + c.size <= t.base || c.base >= t.base + t.size) continue;
      if (c.base > cursor) holes.push({ base: cursor, size: c.base - cursor });
      cursor = c.base + c.size;
    }
    if (cursor < t.base + t.size) holes.push({ base: cursor, size: t.base + t.size - cursor });
    if (block.base >= t.base && block.base < t.base + t.size) holes.push(block);
    const reserved = merge(holes);
    if (reserved.length > limits.maxReservedPerTdmr) {
      throw new Error("too many reserved areas for one TDMR");
    }
    return { base: t.base, size: t.size, pamt1g, pamt2m, pamt4k, reserved };
  });
}

/** Usable (not reserved) memory of the planned TDMRs. */
export function usableAreas(tdmrs: PlannedTdmr[]): MemoryRange[] {
  const out: MemoryRange[] = [];
  for (const t of tdmrs) {
    let at = t.base;
    for (const r of t.reserved) {
      if (r.base > at) out.push({ base: at, size: r.base - at });
      at = r.base + r.size;
    }
    if (at < t.base + t.size) out.push({ base: at, size: t.base + t.size - at });
  }
  return out;
}

/** Hands out distinct aligned ranges of usable TDMR memory, highest TDMR first. */
export class PageAllocator {
  private readonly areas: MemoryRange[];
  private index = 0;
  private next: bigint;

  constructor(areas: MemoryRange[]) {
    this.areas = [...areas].reverse();
    this.next = this.areas[0]?.base ?? 0n;
  }

  alloc(size: bigint, alignment: bigint): bigint {
    while (this.index < this.areas.length) {
      const a = this.areas[this.index];
      const start = up(this.next, alignment);
      if (start + size <= a.base + a.size) {
        this.next = start + size;
        return start;
      }
      this.index++;
      this.next = this.areas[this.index]?.base ?? 0n;
    }
    throw new Error("out of TDMR memory");
  }
}
