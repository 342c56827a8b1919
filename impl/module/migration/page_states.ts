// What the page-migration leaves may do with each Secure EPT leaf state: which states
// each leaf accepts at all (the module's per-leaf state table) and the export/import
// flags of the state (first-time export, re-export, cancel, live/paused export ...).
//
// Source: intel/tdx-module tdx_1.5 include/auto_gen/sept_state_lookup.c
// (seamcall_sept_state_lookup rows 66, 68, 83 and sept_special_flags_lookup).

const set = (...s: string[]): ReadonlySet<string> => new Set(s);

/** States each leaf's Secure EPT state table allows. */
export const LEAF_STATES: Readonly<Record<string, ReadonlySet<string>>> = {
  "TDH.EXPORT.RESTORE": set(
    "EXPORTED_BLOCKEDW",
    "EXPORTED_DIRTY",
    "EXPORTED_DIRTY_BLOCKEDW",
    "PENDING_EXPORTED_BLOCKEDW",
    "PENDING_EXPORTED_DIRTY",
    "PENDING_EXPORTED_DIRTY_BLOCKEDW",
  ),
  "TDH.EXPORT.MEM": set(
    "MAPPED",
    "BLOCKEDW",
    "EXPORTED_BLOCKEDW",
    "EXPORTED_DIRTY",
    "EXPORTED_DIRTY_BLOCKEDW",
    "PENDING",
    "PENDING_BLOCKEDW",
    "PENDING_EXPORTED_BLOCKEDW",
    "PENDING_EXPORTED_DIRTY",
    "PENDING_EXPORTED_DIRTY_BLOCKEDW",
  ),
  "TDH.IMPORT.MEM": set("FREE", "REMOVED", "MAPPED", "PENDING"),
};

/** A write-blocked state (or exported-and-clean) the in-order live export may export. */
export const LIVE_EXPORT_ALLOWED = set(
  "BLOCKEDW",
  "EXPORTED_BLOCKEDW",
  "EXPORTED_DIRTY_BLOCKEDW",
  "PENDING_BLOCKEDW",
  "PENDING_EXPORTED_BLOCKEDW",
  "PENDING_EXPORTED_DIRTY_BLOCKEDW",
);

/** Not exported yet: an export is a first MIGRATE. */
export const FIRST_TIME_EXPORT_ALLOWED = set("MAPPED", "BLOCKEDW", "PENDING", "PENDING_BLOCKEDW");

/** Every state TDH.EXPORT.MEM accepts may be exported while the TD is paused. */
export const PAUSED_EXPORT_ALLOWED = LEAF_STATES["TDH.EXPORT.MEM"];

export const ANY_EXPORTED = set(
  "EXPORTED_BLOCKEDW",
  "EXPORTED_DIRTY",
  "EXPORTED_DIRTY_BLOCKEDW",
  "PENDING_EXPORTED_BLOCKEDW",
  "PENDING_EXPORTED_DIRTY",
  "PENDING_EXPORTED_DIRTY_BLOCKEDW",
);

/** Exported, then written again (or unblocked): must be exported again. */
export const ANY_EXPORTED_AND_DIRTY = set(
  "EXPORTED_DIRTY",
  "EXPORTED_DIRTY_BLOCKEDW",
  "PENDING_EXPORTED_DIRTY",
  "PENDING_EXPORTED_DIRTY_BLOCKEDW",
);

/** An export may be cancelled only for an exported page. */
export const EXPORT_CANCEL_ALLOWED = ANY_EXPORTED;

export function isPendingState(state: string): boolean {
  return state.startsWith("PENDING");
}
