// The guest's view of its memory by guest physical address. Private GPAs reach the
// TD's own pages (Secure EPT, the TD's key); a GPA with the shared bit set reaches
// memory the host can also see. The platform that runs the guest supplies it.

export interface GuestMemory {
  read(gpa: bigint, length: number): Uint8Array;
  write(gpa: bigint, bytes: Uint8Array): void;
}

export interface MemoryRange {
  address: bigint;
  length: bigint;
}

/** A bump allocator over ranges of guest memory the kernel owns; nothing is freed. */
export class RangeAllocator {
  private readonly free: MemoryRange[];

  constructor(ranges: readonly MemoryRange[]) {
    this.free = ranges.map((r) => ({ ...r }));
  }

  /** `size` bytes aligned to `alignment`, or undefined when no range has room. */
  alloc(size: number, alignment: number): bigint | undefined {
    const a = BigInt(alignment);
    for (const r of this.free) {
      const start = (r.address + a - 1n) / a * a;
      const end = start + BigInt(size);
      if (end <= r.address + r.length) {
        r.length -= end - r.address;
        r.address = end;
        return start;
      }
    }
    return undefined;
  }
}
