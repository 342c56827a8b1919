// Shared/exclusive locks on module resources (PAMT entries, TDR, TDCS, TDVPR, KOT,
// SEPT entries). A leaf takes the locks it needs for its duration; a lock another
// operation holds makes the leaf answer TDX_OPERAND_BUSY with the operand's id.
// Operations that run while others are in flight (another logical processor, or a
// resumable leaf between its calls) hold their locks through `hold`.

export type LockMode = "shared" | "exclusive";

interface LockState {
  exclusive: string | undefined;
  shared: Map<string, number>;
}

export class LockTable {
  private readonly locks = new Map<string, LockState>();

  private state(resource: string): LockState {
    let s = this.locks.get(resource);
    if (!s) {
      s = { exclusive: undefined, shared: new Map() };
      this.locks.set(resource, s);
    }
    return s;
  }

  /** Tries to take a lock for `owner`; false when another owner's lock conflicts. */
  tryAcquire(resource: string, mode: LockMode, owner: string): boolean {
    const s = this.state(resource);
    const othersShared = [...s.shared.keys()].some((o) => o !== owner);
    if (s.exclusive !== undefined && s.exclusive !== owner) return false;
    if (mode === "exclusive") {
      if (othersShared) return false;
      s.exclusive = owner;
    } else {
      s.shared.set(owner, (s.shared.get(owner) ?? 0) + 1);
    }
    return true;
  }

  release(resource: string, owner: string): void {
    const s = this.locks.get(resource);
    if (!s) return;
    if (s.exclusive === owner) s.exclusive = undefined;
    else {
      const n = s.shared.get(owner) ?? 0;
      if (n <= 1) s.shared.delete(owner);
      else s.shared.set(owner, n - 1);
    }
    if (s.exclusive === undefined && s.shared.size === 0) this.locks.delete(resource);
  }

  releaseAll(owner: string): void {
    for (const resource of [...this.locks.keys()]) {
      const s = this.locks.get(resource)!;
      if (s.exclusive === owner) s.exclusive = undefined;
      s.shared.delete(owner);
      if (s.exclusive === undefined && s.shared.size === 0) this.locks.delete(resource);
    }
  }

  isHeld(resource: string): boolean {
    return this.locks.has(resource);
  }

  /** An operation in flight elsewhere holds `resource` until `release` is called. */
  hold(resource: string, mode: LockMode, owner = "in-flight"): () => void {
    if (!this.tryAcquire(resource, mode, owner)) throw new Error(`${resource} is already held`);
    return () => this.release(resource, owner);
  }
}

export const lockKey = {
  page: (pa: bigint) => `page:${pa.toString(16)}`,
  kot: () => "kot",
  tdcs: (tdr: bigint) => `tdcs:${tdr.toString(16)}`,
  sept: (tdr: bigint, gpa: bigint, level: number) =>
    `sept:${tdr.toString(16)}:${gpa.toString(16)}:${level}`,
  global: () => "global",
  /** One TDMR's initialisation (TDH.SYS.TDMR.INIT), by its base. */
  tdmr: (base: bigint) => `tdmr:${base.toString(16)}`,
  /** A package's TDH.PHYMEM.CACHE.WB cycle (operand WBCACHE). */
  wbcache: (pkg: number) => `wbcache:${pkg}`,
  /** The TD's Secure EPT tree lock (operand SEPT_TREE). */
  septTree: (tdr: bigint) => `septtree:${tdr.toString(16)}`,
  /** The TD's epoch lock TDH.MEM.TRACK takes (operand TD_EPOCH). */
  tdEpoch: (tdr: bigint) => `epoch:${tdr.toString(16)}`,
};
