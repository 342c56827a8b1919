// Sparse physical memory whose cache lines carry the KeyID they were last written
// with. A KeyID lives in the top physical-address bits (below MAX_PA). A page is
// stored only once touched, so a 64 GiB TD costs memory only for what it uses; a page
// that was only zeroed (TDG.MEM.PAGE.ACCEPT, a new TDCS or Secure EPT page) keeps just
// its KeyIDs until something is written to it.
//
// Integrity, as MKTME with integrity behaves for TD memory: data written with a
// private KeyID is only readable with that same KeyID. Read through any other KeyID
// it yields zeros (the TD-owner bit blocks the line) and the access is recorded as
// an integrity event; nothing of the TD's data leaks.

export const PAGE_SIZE = 4096;
const PAGE_SHIFT = 12n;
const LINE = 64;

interface Page {
  /** KeyID of each 64-byte line (a page is written line by line, not always with one key). */
  lineKey: Uint16Array;
  /** The bytes; undefined while the page is all zeros (allocated on the first write). */
  data?: Uint8Array;
}

export interface IntegrityEvent {
  pa: bigint;
  readKeyId: number;
  ownerKeyId: number;
}

export class PhysicalMemory {
  private readonly pages = new Map<bigint, Page>();
  readonly integrityEvents: IntegrityEvent[] = [];
  /** Bit position of the lowest KeyID bit in a physical address. */
  readonly keyIdShift: number;
  readonly addressMask: bigint;

  constructor(
    readonly maxPa: number,
    readonly keyIdBits: number,
    private readonly isPrivateKeyId: (keyId: number) => boolean,
  ) {
    this.keyIdShift = maxPa - keyIdBits;
    this.addressMask = (1n << BigInt(this.keyIdShift)) - 1n;
  }

  /** Splits a physical address as the CPU does into KeyID and address. */
  split(pa: bigint): { keyId: number; addr: bigint } {
    return {
      keyId: Number((pa >> BigInt(this.keyIdShift)) & ((1n << BigInt(this.keyIdBits)) - 1n)),
      addr: pa & this.addressMask,
    };
  }

  withKeyId(addr: bigint, keyId: number): bigint {
    return (addr & this.addressMask) | (BigInt(keyId) << BigInt(this.keyIdShift));
  }

  private page(frame: bigint, create: boolean): Page | undefined {
    let p = this.pages.get(frame);
    if (!p && create) {
      p = { lineKey: new Uint16Array(PAGE_SIZE / LINE) };
      this.pages.set(frame, p);
    }
    return p;
  }

  read(pa: bigint, length: number): Uint8Array {
    const { keyId, addr } = this.split(pa);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const a = addr + BigInt(done);
      const frame = a >> PAGE_SHIFT;
      const off = Number(a & 0xFFFn);
      const n = Math.min(length - done, PAGE_SIZE - off);
      const p = this.page(frame, false);
      if (p) {
        for (let line = Math.floor(off / LINE); line * LINE < off + n; line++) {
          const from = Math.max(off, line * LINE);
          const to = Math.min(off + n, (line + 1) * LINE);
          const owner = p.lineKey[line];
          if (owner === keyId || (!this.isPrivateKeyId(owner) && !this.isPrivateKeyId(keyId))) {
            if (p.data) out.set(p.data.subarray(from, to), done + from - off);
          } else {
            this.integrityEvents.push({
              pa: (frame << PAGE_SHIFT) + BigInt(line * LINE),
              readKeyId: keyId,
              ownerKeyId: owner,
            });
          }
        }
      }
      done += n;
    }
    return out;
  }

  write(pa: bigint, bytes: Uint8Array): void {
    const { keyId, addr } = this.split(pa);
    let done = 0;
    while (done < bytes.length) {
      const a = addr + BigInt(done);
      const frame = a >> PAGE_SHIFT;
      const off = Number(a & 0xFFFn);
      const n = Math.min(bytes.length - done, PAGE_SIZE - off);
      const p = this.page(frame, true)!;
      const data = p.data ??= new Uint8Array(PAGE_SIZE);
      for (let line = Math.floor(off / LINE); line * LINE < off + n; line++) {
        if (p.lineKey[line] !== keyId) {
          // A line written with a new key loses what it held under the old one.
          data.fill(0, line * LINE, (line + 1) * LINE);
          p.lineKey[line] = keyId;
        }
      }
      data.set(bytes.subarray(done, done + n), off);
      done += n;
    }
  }

  /** Fills a whole page with zeros under a KeyID (MOVDIR64B-style initialisation). */
  zeroPage(pa: bigint): void {
    const { keyId, addr } = this.split(pa);
    const p = this.page(addr >> PAGE_SHIFT, true)!;
    p.data = undefined;
    p.lineKey.fill(keyId);
  }

  /** Forgets a page entirely (the host reclaimed it and nothing was written since). */
  drop(addr: bigint): void {
    this.pages.delete((addr & this.addressMask) >> PAGE_SHIFT);
  }

  get touchedPages(): number {
    return this.pages.size;
  }
}
