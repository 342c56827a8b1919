// A user process's address space, as far as copy_from_user/copy_to_user care:
// mapped regions with read and write permission. An access outside them faults,
// which the kernel reports as EFAULT.

interface Region {
  start: bigint;
  bytes: Uint8Array;
  read: boolean;
  write: boolean;
}

export class UserMemory {
  private readonly regions: Region[] = [];
  private next = 0x7f00_0000_0000n;

  /** Maps `size` zeroed bytes at a fresh address and returns it. */
  map(size: number, prot: { read?: boolean; write?: boolean } = {}): bigint {
    const start = this.next;
    this.regions.push({
      start,
      bytes: new Uint8Array(size),
      read: prot.read ?? true,
      write: prot.write ?? true,
    });
    // Leave an unmapped page between regions so overruns fault.
    this.next += BigInt(Math.ceil(size / 4096) + 1) * 4096n;
    return start;
  }

  private span(addr: bigint, length: number, need: "read" | "write"): [Region, number] | undefined {
    const r = this.regions.find((x) =>
      addr >= x.start && addr + BigInt(length) <= x.start + BigInt(x.bytes.length)
    );
    if (!r || !r[need]) return undefined;
    return [r, Number(addr - r.start)];
  }

  /** copy_from_user: the bytes, or undefined on a fault. */
  copyFrom(addr: bigint, length: number): Uint8Array | undefined {
    const s = this.span(addr, length, "read");
    return s ? s[0].bytes.slice(s[1], s[1] + length) : undefined;
  }

  /** copy_to_user: false on a fault. */
  copyTo(addr: bigint, bytes: Uint8Array): boolean {
    const s = this.span(addr, bytes.length, "write");
    if (!s) return false;
    s[0].bytes.set(bytes, s[1]);
    return true;
  }

  /** What the process itself sees (no permission check): for user code and tests. */
  peek(addr: bigint, length: number): Uint8Array {
    const r = this.regions.find((x) => addr >= x.start && addr < x.start + BigInt(x.bytes.length))!;
    const off = Number(addr - r.start);
    return r.bytes.slice(off, off + length);
  }

  poke(addr: bigint, bytes: Uint8Array): void {
    const r = this.regions.find((x) => addr >= x.start && addr < x.start + BigInt(x.bytes.length))!;
    r.bytes.set(bytes, Number(addr - r.start));
  }
}
