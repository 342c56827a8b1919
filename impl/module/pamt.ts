// The Physical Address Metadata Table: for every 4 KiB page inside a TDMR, its page
// type (spec/enum/page_type.yaml), its owner TD (the TDR's address; 0 in a TDR's own
// entry, as TDH.MNG.CREATE leaves it) and, for TD pages, the mapping level. Pages never
// touched are PT_NDA and take no memory.

export interface PamtEntry {
  pageType: string;
  /** Physical address of the owning TD's TDR; 0 for a PT_TDR page (the module records none). */
  owner?: bigint;
  /** 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB (a large page's entry sits on its first 4 KiB). */
  level: number;
  /** TLB-tracking epoch at which the page was blocked (for removal checks). */
  bepoch?: bigint;
  /** Imported TD pages: the migration epoch of their last import (BEPOCH with its MIG flag). */
  importEpoch?: bigint;
}

const NDA: Readonly<PamtEntry> = Object.freeze({ pageType: "PT_NDA", level: 0 });

export class Pamt {
  private readonly entries = new Map<bigint, PamtEntry>();

  get(pa: bigint): Readonly<PamtEntry> {
    return this.entries.get(pa >> 12n) ?? NDA;
  }

  /**
   * The entry of the page containing `pa`: the 1 GiB or 2 MiB page that covers it when
   * there is one (its entry sits on the large page's first 4 KiB), else its own 4 KiB entry.
   */
  leaf(pa: bigint): { base: bigint; entry: Readonly<PamtEntry> } {
    for (const level of [2, 1]) {
      const base = pa & ~((4096n << BigInt(9 * level)) - 1n);
      const e = this.entries.get(base >> 12n);
      if (e && e.level === level) return { base, entry: e };
    }
    const base = pa & ~0xFFFn;
    return { base, entry: this.get(base) };
  }

  set(pa: bigint, entry: PamtEntry): void {
    if (entry.pageType === "PT_NDA") this.entries.delete(pa >> 12n);
    else this.entries.set(pa >> 12n, { ...entry });
  }

  clear(pa: bigint): void {
    this.entries.delete(pa >> 12n);
  }

  /** Every page a TD owns (for teardown checks and reclaim); the TDR itself is not among them. */
  ownedBy(tdr: bigint): bigint[] {
    const out: bigint[] = [];
    for (const [frame, e] of this.entries) {
      if (e.pageType !== "PT_TDR" && e.owner === tdr) out.push(frame << 12n);
    }
    return out;
  }

  /** Takes over every entry of another PAMT (a module update hands the PAMT over). */
  copyFrom(other: Pamt): void {
    for (const [frame, e] of other.entries) this.entries.set(frame, { ...e });
  }

  get size(): number {
    return this.entries.size;
  }
}
