// The host kernel's page allocator: 4 KiB pages of host RAM (inside the TDMRs the TDX
// module was configured with, so the module accepts them), handed out to TD control
// structures, S-EPT pages, guest_memfd folios and user memory alike.
import type { MemoryRange } from "../cpu/cpu.ts";
import { PAGE_SIZE } from "../cpu/physical_memory.ts";

const PAGE = BigInt(PAGE_SIZE);

export class HostPages {
  private readonly free: bigint[] = [];
  private cursor = 0;
  private next: bigint;
  private used = 0;

  /** `limit` caps the pages in use, so tests can make an allocation fail (ENOMEM). */
  constructor(private readonly ranges: MemoryRange[], public limit = Infinity) {
    this.next = ranges[0]?.base ?? 0n;
  }

  alloc(): bigint | undefined {
    if (this.used >= this.limit) return undefined;
    let pa = this.free.pop();
    while (pa === undefined && this.cursor < this.ranges.length) {
      const r = this.ranges[this.cursor];
      if (this.next + PAGE <= r.base + r.size) {
        pa = this.next;
        this.next += PAGE;
      } else if (++this.cursor < this.ranges.length) {
        this.next = this.ranges[this.cursor].base;
      }
    }
    if (pa !== undefined) this.used++;
    return pa;
  }

  release(pa: bigint): void {
    this.free.push(pa);
    this.used--;
  }

  get inUse(): number {
    return this.used;
  }
}
