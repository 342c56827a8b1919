// The TD's guest-physical memory as the launcher sets it up, QEMU-style: RAM from GPA 0
// and the firmware image mapped just below 4 GiB, each one memslot backed by a
// guest_memfd (private pages) and by the VMM's own memory (what the TD sees through
// the shared alias). `VmmMemory` reads and writes that VMM-side backing by GPA.
import type { KvmVm } from "../kvm/mod.ts";
import { isFailure } from "../kvm/errno.ts";
import type { VmmMemory } from "./quote_service.ts";

export interface GuestRegion {
  slot: number;
  gpa: bigint;
  size: bigint;
  /** The VMM's mapping backing the shared view of the region. */
  userAddr: bigint;
}

/** Where the firmware image sits: it ends at 4 GiB. */
export const FOUR_GIB = 1n << 32n;

export class TdMemory implements VmmMemory {
  readonly regions: GuestRegion[] = [];

  constructor(private readonly vm: KvmVm) {}

  private locate(gpa: bigint, length: number): { r: GuestRegion; off: bigint } {
    const r = this.regions.find((x) => gpa >= x.gpa && gpa + BigInt(length) <= x.gpa + x.size);
    if (!r) throw new Error(`GPA 0x${gpa.toString(16)} (+${length}) is outside guest memory`);
    return { r, off: gpa - r.gpa };
  }

  read(gpa: bigint, length: number): Uint8Array {
    const { r, off } = this.locate(gpa, length);
    const bytes = this.vm.host.user.read(r.userAddr + off, length);
    if (isFailure(bytes)) {
      throw new Error(`VMM memory at GPA 0x${gpa.toString(16)}: ${bytes.errno}`);
    }
    return bytes;
  }

  write(gpa: bigint, bytes: Uint8Array): void {
    const { r, off } = this.locate(gpa, bytes.length);
    const f = this.vm.host.user.write(r.userAddr + off, bytes);
    if (f) throw new Error(`VMM memory at GPA 0x${gpa.toString(16)}: ${f.errno}`);
  }
}
