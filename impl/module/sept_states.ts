// What each Secure EPT entry state means to the module: whether the entry is a leaf,
// which of R/W/X it grants, and the flags the leaves test (blocked, pending, needs TLB
// tracking, guest-accessible). State names are the SEPT_ENTRY_STATE value names of the
// spec; their numbers (what the host sees in SEPT_LEVEL_AND_STATE) come from the spec.
//
// Source of the flags: intel/tdx-module tdx_1.5 include/auto_gen/sept_state_lookup.c
// (sept_special_flags_lookup) and sept_manager.h (state encodings, RWX per state).

export interface SeptStateTraits {
  /** PS set: the entry maps a page (every leaf state), as opposed to a Secure EPT page. */
  leaf: boolean;
  /** R (bit 0), W (bit 1), X (bit 2) the entry grants. */
  rwx: bigint;
  /** Any of the *BLOCKED states (not BLOCKEDW). */
  blocked: boolean;
  /** Any of the *BLOCKEDW states. */
  blockedW: boolean;
  /** Any of the PENDING* states. */
  pending: boolean;
  /** Removing or remapping the entry while the TD may run needs BLOCK + TRACK first. */
  tlbTracking: boolean;
  /** A leaf the guest can access (MAPPED, BLOCKEDW, EXPORTED_*). */
  guestAccessibleLeaf: boolean;
  /** MAPPED or PENDING: may be the first child of a promotable range. */
  mappedOrPending: boolean;
}

const RWX = 7n;
const RX = 5n;

function t(p: Partial<SeptStateTraits>): SeptStateTraits {
  return {
    leaf: false,
    rwx: 0n,
    blocked: false,
    blockedW: false,
    pending: false,
    tlbTracking: false,
    guestAccessibleLeaf: false,
    mappedOrPending: false,
    ...p,
  };
}

/** L1 Secure EPT states. */
export const L1_STATES: Readonly<Record<string, SeptStateTraits>> = {
  FREE: t({}),
  REMOVED: t({}),
  NL_MAPPED: t({ rwx: RWX, tlbTracking: true }),
  NL_BLOCKED: t({ blocked: true, tlbTracking: true }),
  MAPPED: t({
    leaf: true,
    rwx: RWX,
    tlbTracking: true,
    guestAccessibleLeaf: true,
    mappedOrPending: true,
  }),
  BLOCKED: t({ leaf: true, blocked: true, tlbTracking: true }),
  BLOCKEDW: t({
    leaf: true,
    rwx: RX,
    blockedW: true,
    tlbTracking: true,
    guestAccessibleLeaf: true,
  }),
  EXPORTED_BLOCKEDW: t({ leaf: true, rwx: RX, blockedW: true, guestAccessibleLeaf: true }),
  EXPORTED_DIRTY: t({ leaf: true, rwx: RWX, tlbTracking: true, guestAccessibleLeaf: true }),
  EXPORTED_DIRTY_BLOCKEDW: t({
    leaf: true,
    rwx: RX,
    blockedW: true,
    tlbTracking: true,
    guestAccessibleLeaf: true,
  }),
  PENDING: t({ leaf: true, pending: true, tlbTracking: true, mappedOrPending: true }),
  PENDING_BLOCKED: t({ leaf: true, pending: true, blocked: true, tlbTracking: true }),
  PENDING_BLOCKEDW: t({ leaf: true, pending: true, blockedW: true, tlbTracking: true }),
  PENDING_EXPORTED_BLOCKEDW: t({ leaf: true, pending: true, blockedW: true }),
  PENDING_EXPORTED_DIRTY: t({ leaf: true, pending: true, tlbTracking: true }),
  PENDING_EXPORTED_DIRTY_BLOCKEDW: t({
    leaf: true,
    pending: true,
    blockedW: true,
    tlbTracking: true,
  }),
};

/** L2 (nested VM) Secure EPT states; a mapped L2 leaf grants what its attributes say. */
export const L2_STATES: Readonly<Record<string, SeptStateTraits>> = {
  L2_FREE: t({}),
  L2_NL_MAPPED: t({ rwx: RWX }),
  L2_NL_BLOCKED: t({ blocked: true }),
  L2_MAPPED: t({ leaf: true }),
  L2_BLOCKED: t({ leaf: true, blocked: true }),
};

export function traits(state: string): SeptStateTraits {
  const s = L1_STATES[state] ?? L2_STATES[state];
  if (!s) throw new Error(`unknown Secure EPT state ${state}`);
  return s;
}

/** TDH.MEM.RANGE.BLOCK's transition; undefined for a state that cannot be blocked. */
export function blockedState(state: string): string | undefined {
  return ({
    NL_MAPPED: "NL_BLOCKED",
    MAPPED: "BLOCKED",
    BLOCKEDW: "BLOCKED",
    PENDING: "PENDING_BLOCKED",
    PENDING_BLOCKEDW: "PENDING_BLOCKED",
  } as Record<string, string>)[state];
}

/** sept_unblock: the *BLOCKED states go back to their unblocked form, others stay. */
export function unblockedState(state: string): string {
  return ({
    NL_BLOCKED: "NL_MAPPED",
    BLOCKED: "MAPPED",
    PENDING_BLOCKED: "PENDING",
    L2_NL_BLOCKED: "L2_NL_MAPPED",
    L2_BLOCKED: "L2_MAPPED",
  } as Record<string, string>)[state] ?? state;
}

/** TDG.MEM.PAGE.ACCEPT's transition of an acceptable PENDING leaf. */
export function acceptedState(state: string): string | undefined {
  return ({ PENDING: "MAPPED", PENDING_EXPORTED_DIRTY: "EXPORTED_DIRTY" } as Record<
    string,
    string
  >)[state];
}

/** OP_STATE values in which the module enforces BLOCK + TRACK before unmapping. */
export const TLB_TRACKING_OP_STATES: ReadonlySet<string> = new Set([
  "OP_STATE_RUNNABLE",
  "OP_STATE_LIVE_EXPORT",
  "OP_STATE_LIVE_IMPORT",
]);

/** OP_STATE values with an import in progress: a removed leaf becomes REMOVED, not FREE. */
export const IMPORT_IN_PROGRESS_OP_STATES: ReadonlySet<string> = new Set([
  "OP_STATE_MEMORY_IMPORT",
  "OP_STATE_STATE_IMPORT",
  "OP_STATE_POST_IMPORT",
  "OP_STATE_LIVE_IMPORT",
]);
