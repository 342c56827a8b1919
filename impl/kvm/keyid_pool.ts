// The host's pool of TDX private KeyIDs (HKIDs), as Linux partitions it: the private
// range follows the MKTME KeyIDs (IA32_MKTME_KEYID_PARTITIONING); its first KeyID is the
// TDX module's global KeyID, the rest are handed to TDs.
import type { Cpu } from "../cpu/cpu.ts";
import { decodeBits } from "../spec/bits.ts";

export class KeyIdPool {
  readonly globalKeyId: number;
  readonly first: number;
  readonly count: number;
  private readonly taken = new Set<number>();

  constructor(cpu: Cpu, globalKeyId?: number) {
    const { fields } = decodeBits(
      cpu.spec.bitfield("IA32_MKTME_KEYID_PARTITIONING").fields,
      cpu.msrs.readNamed("IA32_MKTME_KEYID_PARTITIONING") ?? 0n,
    );
    const start = Number(fields.NUM_MKTME_KIDS) + 1;
    const n = Number(fields.NUM_TDX_PRIV_KIDS);
    this.globalKeyId = globalKeyId ?? start;
    this.first = start;
    this.count = n;
  }

  /** ida_alloc_range over the guest KeyIDs; undefined when none is free (ENOSPC). */
  alloc(): number | undefined {
    for (let k = this.first; k < this.first + this.count; k++) {
      if (k !== this.globalKeyId && !this.taken.has(k)) {
        this.taken.add(k);
        return k;
      }
    }
    return undefined;
  }

  free(keyId: number): void {
    this.taken.delete(keyId);
  }

  /** Number of guest KeyIDs (the misc cgroup's TDX capacity). */
  get guestKeyIds(): number {
    return this.count - 1;
  }
}
