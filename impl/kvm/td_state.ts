// What KVM keeps about a TD (struct kvm_tdx): its life-cycle state, HKID, control pages
// and the parameters it was initialised with.

export type TdLifecycle = "uninitialized" | "initialized" | "runnable";

export interface TdState {
  state: TdLifecycle;
  /** The TD's private HKID while assigned. */
  hkid?: number;
  tdr?: bigint;
  /** TDCS pages, once added (an entry is cleared when the page was never added). */
  tdcs?: (bigint | undefined)[];
  tdcsNr: number;
  tdcxNr: number;
  attributes: bigint;
  xfam: bigint;
  tscOffset: bigint;
  tscMultiplier: bigint;
  /** The shared GPA bit (gfn_direct_bits as an address); 0 before KVM_TDX_INIT_VM. */
  sharedBit: bigint;
  /** Guest physical address width: 48 or 52. */
  gpaw: number;
  /** Secure EPT levels: 4 or 5. */
  eptLevels: number;
  preFaultAllowed: boolean;
}

export function newTdState(): TdState {
  return {
    state: "uninitialized",
    tdcsNr: 0,
    tdcxNr: 0,
    attributes: 0n,
    xfam: 0n,
    tscOffset: 0n,
    tscMultiplier: 0n,
    sharedBit: 0n,
    gpaw: 48,
    eptLevels: 4,
    preFaultAllowed: false,
  };
}
