// Memslots: guest-physical ranges backed by the VMM's memory (shared view) and, with
// KVM_MEM_GUEST_MEMFD, by a guest_memfd range (private view).
import type { GuestMemfd } from "./guest_memfd.ts";

export interface Memslot {
  id: number;
  /** First GFN. */
  base: bigint;
  npages: bigint;
  userspaceAddr: bigint;
  flags: number;
  /** The guest_memfd backing the private view; undefined once that file was closed. */
  gmem?: GuestMemfd;
  /** Whether the slot was created with a guest_memfd (even if the file is gone since). */
  hasGmem: boolean;
  /** Page offset of the slot's first GFN in the guest_memfd. */
  gmemPgoff: bigint;
}

export class Memslots {
  readonly byId = new Map<number, Memslot>();

  find(gfn: bigint): Memslot | undefined {
    for (const s of this.byId.values()) if (gfn >= s.base && gfn < s.base + s.npages) return s;
    return undefined;
  }

  overlaps(id: number, start: bigint, end: bigint): boolean {
    for (const s of this.byId.values()) {
      if (s.id !== id && start < s.base + s.npages && s.base < end) return true;
    }
    return false;
  }
}
