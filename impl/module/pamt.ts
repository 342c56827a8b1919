// The Physical Address Metadata Table: for every 4 KiB page inside a TDMR, its page
// type (spec/enum/page_type.yaml), its owner TD (the TDR's address) and, for TD
// pages, the mapping level. Pages never touched are PT_NDA and take no memory.

export interface PamtEntry {
  pageType: string;
  /** Physical address of the owning TD's TDR (for PT_TDR itself, its own address). */
  owner?: bigint;
  /** 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB (a large page's entry sits on its first 4 KiB). */
  level: number;
  /** TLB-tracking epoch at which the page was blocked (for removal checks). */
  bepoch?: bigint;
}

const NDA: Readonly<PamtEntry> = Object.freeze({ pageType: "PT_NDA", level: 0 });

export class Pamt {
  private readonly entries = new Map<bigint, PamtEntry>();

  get(pa: bigint): Readonly<PamtEntry> {
    return this.entries.get(pa >> 12n) ?? NDA;
  }

  set(pa: bigint, entry: PamtEntry): void {
    if (entry.pageType === "PT_NDA") this.entries.delete(pa >> 12n);
    else this.entries.set(pa >> 12n, { ...entry });
  }

  clear(pa: bigint): void {
    this.entries.delete(pa >> 12n);
  }

  /** Every page a TD owns (for teardown checks and reclaim). */
  ownedBy(tdr: bigint): bigint[] {
    const out: bigint[] = [];
    for (const [frame, e] of this.entries) if (e.owner === tdr) out.push(frame << 12n);
    return out;
  }

  get size(): number {
    return this.entries.size;
  }
}
