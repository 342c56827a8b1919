// Memo tables for work that depends only on bytes (parsed certificates and CRLs, checked
// chains, checked collateral): bounded, and all clearable at once (tests, cold benchmarks).

interface Clearable {
  readonly group: string;
  clear(): void;
}

const all = new Set<Clearable>();

/** A map from exact keys to computed values, emptied when it grows past its limit. */
export class MemoCache<K, V> implements Clearable {
  private map = new Map<K, V>();
  /** group names what is kept, so one kind can be forgotten alone (see clearVerificationCaches). */
  constructor(private readonly limit = 1024, readonly group = "collateral") {
    all.add(this);
  }
  get(key: K, make: () => V): V {
    if (this.map.has(key)) return this.map.get(key) as V;
    const v = make();
    if (this.map.size >= this.limit) this.map.clear();
    this.map.set(key, v);
    return v;
  }
  clear(): void {
    this.map.clear();
  }
}

/** A memo keyed by object identity (values live as long as their key object). */
export class WeakMemo<K extends object, V> implements Clearable {
  private map = new WeakMap<K, V>();
  constructor(readonly group = "collateral") {
    all.add(this);
  }
  get(key: K, make: () => V): V {
    if (this.map.has(key)) return this.map.get(key) as V;
    const v = make();
    this.map.set(key, v);
    return v;
  }
  clear(): void {
    this.map = new WeakMap();
  }
}

/**
 * Forgets what was verified so far: everything, or one group - "platform" (parsed
 * certificates and checked PCK chains, which a quote from a new platform would not find)
 * or "collateral".
 */
export function clearVerificationCaches(group?: "platform" | "collateral"): void {
  for (const c of all) if (group === undefined || c.group === group) c.clear();
}
