// guest_memfd: a file of guest-private memory bound to one VM. Its pages (folios) are
// host pages allocated on first use; userspace never reads them. Closing the file
// unmaps everything the TD had mapped from it and frees its pages.
import { fail, type Failure } from "./errno.ts";
import { type IoctlHandler, KvmFile } from "./kvm_file.ts";
import type { Memslot } from "./memslots.ts";
import type { KvmVm } from "./vm.ts";

export class GuestMemfd extends KvmFile {
  protected readonly unknownIoctlErrno = "ENOTTY";
  /** Host page of each page offset allocated so far. */
  readonly folios = new Map<bigint, bigint>();
  readonly bindings: Memslot[] = [];

  constructor(readonly vm: KvmVm, readonly size: bigint, readonly flags: bigint) {
    super(vm.spec);
  }

  protected handlers(): [string, IoctlHandler][] {
    return [];
  }

  protected install(file: KvmFile): number {
    return this.vm.host.installFile(file);
  }

  /** The host page of a page offset, allocated (zeroed) on first use. */
  getPfn(pgoff: bigint): bigint | Failure {
    let pa = this.folios.get(pgoff);
    if (pa === undefined) {
      pa = this.vm.host.allocPage();
      if (pa === undefined) return fail("ENOMEM");
      this.folios.set(pgoff, pa);
    }
    return pa;
  }

  /** Whether [start, end) of the file is already bound to a memslot. */
  isBound(start: bigint, end: bigint): boolean {
    return this.bindings.some((s) => start < s.gmemPgoff + s.npages && s.gmemPgoff < end);
  }

  unbind(slot: Memslot): void {
    const i = this.bindings.indexOf(slot);
    if (i >= 0) this.bindings.splice(i, 1);
  }

  /** close(2): the last reference goes, so KVM zaps every mapping and frees the pages. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const slot of [...this.bindings]) {
      slot.gmem = undefined;
      this.vm.zapRange(slot.base, slot.base + slot.npages, "private");
    }
    this.bindings.length = 0;
    for (const pa of this.folios.values()) this.vm.host.freePage(pa);
    this.folios.clear();
    this.vm.gmems.delete(this);
    this.vm.host.closeFd(this.fd);
  }
}
