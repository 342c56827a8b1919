// The VMM process's address space as the kernel sees it: anonymous mappings whose pages
// are host RAM (read and written with the host's KeyID 0), copy_from_user/copy_to_user
// that fail with EFAULT on an unmapped address, and the host physical address of a user
// page (what get_user_pages gives KVM for TDH.MEM.PAGE.ADD's source page).
import type { Cpu } from "../cpu/cpu.ts";
import { PAGE_SIZE } from "../cpu/physical_memory.ts";
import { fail, type Failure } from "./errno.ts";
import type { HostPages } from "./host_pages.ts";

const PAGE = BigInt(PAGE_SIZE);
const PAGE_MASK = PAGE - 1n;

export class UserMemory {
  private readonly pages = new Map<bigint, bigint>();
  private readonly readOnly = new Set<bigint>();
  private brk: bigint;

  constructor(
    private readonly cpu: Cpu,
    private readonly hostPages: HostPages,
    base = 0x7F00_0000_0000n,
  ) {
    this.brk = base;
  }

  /** mmap(MAP_ANONYMOUS) of `size` bytes; undefined when host memory ran out. */
  mmap(size: number | bigint): bigint | undefined {
    const n = (BigInt(size) + PAGE_MASK) / PAGE;
    const addr = this.brk;
    const got: bigint[] = [];
    for (let i = 0n; i < n; i++) {
      const pa = this.hostPages.alloc();
      if (pa === undefined) {
        got.forEach((p) => this.hostPages.release(p));
        return undefined;
      }
      this.cpu.memory.zeroPage(pa);
      got.push(pa);
    }
    got.forEach((pa, i) => this.pages.set((addr >> 12n) + BigInt(i), pa));
    // A guard page between mappings, so running off the end faults.
    this.brk = addr + (n + 1n) * PAGE;
    return addr;
  }

  munmap(addr: bigint, size: number | bigint): void {
    const n = (BigInt(size) + PAGE_MASK) / PAGE;
    for (let i = 0n; i < n; i++) {
      const vpn = (addr >> 12n) + i;
      const pa = this.pages.get(vpn);
      if (pa !== undefined) this.hostPages.release(pa);
      this.pages.delete(vpn);
    }
  }

  /** mprotect(PROT_READ): copy_to_user into these pages fails with EFAULT. */
  protect(addr: bigint, size: number | bigint, readOnly = true): void {
    const n = (BigInt(size) + PAGE_MASK) / PAGE;
    for (let i = 0n; i < n; i++) {
      const vpn = (addr >> 12n) + i;
      if (readOnly) this.readOnly.add(vpn);
      else this.readOnly.delete(vpn);
    }
  }

  /** A new mapping holding `bytes` (a convenience for callers building ioctl arguments). */
  place(bytes: Uint8Array, room = bytes.length): bigint {
    const addr = this.mmap(Math.max(room, bytes.length, 1));
    if (addr === undefined) throw new Error("the model's host memory is exhausted");
    this.write(addr, bytes);
    return addr;
  }

  /** The host physical address behind a user address (get_user_pages). */
  translate(addr: bigint): bigint | undefined {
    const pa = this.pages.get(addr >> 12n);
    return pa === undefined ? undefined : pa + (addr & PAGE_MASK);
  }

  read(addr: bigint, length: number): Uint8Array | Failure {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const a = addr + BigInt(done);
      const pa = this.translate(a);
      if (pa === undefined) return fail("EFAULT");
      const n = Math.min(length - done, PAGE_SIZE - Number(a & PAGE_MASK));
      out.set(this.cpu.memory.read(pa, n), done);
      done += n;
    }
    return out;
  }

  write(addr: bigint, bytes: Uint8Array): Failure | undefined {
    const writable = (a: bigint) => this.translate(a) !== undefined && !this.readOnly.has(a >> 12n);
    for (let off = 0; off < bytes.length; off += PAGE_SIZE) {
      if (!writable(addr + BigInt(off))) return fail("EFAULT");
    }
    if (bytes.length && !writable(addr + BigInt(bytes.length - 1))) return fail("EFAULT");
    let done = 0;
    while (done < bytes.length) {
      const a = addr + BigInt(done);
      const n = Math.min(bytes.length - done, PAGE_SIZE - Number(a & PAGE_MASK));
      this.cpu.memory.write(this.translate(a)!, bytes.subarray(done, done + n));
      done += n;
    }
    return undefined;
  }

  /** Every page still mapped (the process's footprint). */
  get mappedPages(): number {
    return this.pages.size;
  }
}

/**
 * An ioctl's user pointer: either a buffer the caller passes directly (the model's
 * stand-in for a pointer to the caller's struct) or an address in the process.
 */
export type UserArg = Uint8Array | bigint | number | undefined;

export class UserPointer {
  constructor(private readonly user: UserMemory, private readonly arg: UserArg) {}

  read(offset: number, length: number): Uint8Array | Failure {
    if (this.arg instanceof Uint8Array) {
      if (offset + length > this.arg.length) return fail("EFAULT");
      return this.arg.slice(offset, offset + length);
    }
    if (this.arg === undefined) return fail("EFAULT");
    return this.user.read(BigInt(this.arg) + BigInt(offset), length);
  }

  write(offset: number, bytes: Uint8Array): Failure | undefined {
    if (this.arg instanceof Uint8Array) {
      if (offset + bytes.length > this.arg.length) return fail("EFAULT");
      this.arg.set(bytes, offset);
      return undefined;
    }
    if (this.arg === undefined) return fail("EFAULT");
    return this.user.write(BigInt(this.arg) + BigInt(offset), bytes);
  }
}
