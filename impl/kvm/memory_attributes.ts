// Per-GFN memory attributes (KVM_SET_MEMORY_ATTRIBUTES): for a TD only
// KVM_MEMORY_ATTRIBUTE_PRIVATE, which decides whether an access is served from
// guest_memfd (private) or from the memslot's userspace mapping (shared).

/** Attributes of GFN ranges, stored as disjoint [start, end) runs with a non-zero value. */
export class MemoryAttributes {
  private runs: { start: bigint; end: bigint; value: bigint }[] = [];

  get(gfn: bigint): bigint {
    return this.runs.find((r) => r.start <= gfn && gfn < r.end)?.value ?? 0n;
  }

  /** Whether every GFN of [start, end) has exactly `value`. */
  rangeHas(start: bigint, end: bigint, value: bigint): boolean {
    let at = start;
    for (const r of this.runs) {
      if (r.end <= start || r.start >= end) continue;
      // A gap before this run holds attribute 0.
      if (r.start > at && value !== 0n) return false;
      if (r.value !== value) return false;
      if (r.end > at) at = r.end;
    }
    return at >= end || value === 0n;
  }

  set(start: bigint, end: bigint, value: bigint): void {
    const out: { start: bigint; end: bigint; value: bigint }[] = [];
    for (const r of this.runs) {
      if (r.end <= start || r.start >= end) {
        out.push(r);
        continue;
      }
      if (r.start < start) out.push({ start: r.start, end: start, value: r.value });
      if (r.end > end) out.push({ start: end, end: r.end, value: r.value });
    }
    if (value !== 0n) out.push({ start, end, value });
    out.sort((a, b) => (a.start < b.start ? -1 : 1));
    this.runs = out;
  }
}
