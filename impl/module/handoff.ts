// The handoff data of a TD-preserving module update: what TDH.SYS.SHUTDOWN leaves in the
// SEAM range for the next module (TDMRs and PAMT, the KOT, every TD and vCPU, the global
// HKID and the extensions' pool and add-on features) and how TDH.SYS.UPDATE takes it over.
// The CPU keeps the area opaque (Cpu.seamHandoff); only the module reads its contents.
import type { ModuleState } from "./state.ts";

export interface HandoffData {
  /** The previous module's state, as the handoff pages hold it. */
  state: ModuleState;
  addOnFeatures: bigint;
  /** MAX_QUOTE_SIZE of the previous module when its Quoting extension was initialised. */
  maxQuoteSize?: number;
}

export function prepareHandoff(state: ModuleState): HandoffData {
  const ext = state.platform.extensions;
  return {
    state,
    addOnFeatures: state.platform.addOnFeatures,
    maxQuoteSize: ext.quoteInitialized ? state.profile.extensions.maxQuoteSize : undefined,
  };
}

/** Bytes the model says the handoff takes: one page per 64 TDs, at least one. */
export function handoffSize(state: ModuleState): number {
  return 4096 * Math.max(1, Math.ceil(state.tds.size / 64));
}

export function isHandoffData(x: unknown): x is HandoffData {
  return typeof x === "object" && x !== null && "state" in x && "addOnFeatures" in x;
}

/** Restores the previous module's global state into `into` (the new module's). */
export function retrieveHandoff(into: ModuleState, h: HandoffData): void {
  const from = h.state;
  const p = into.platform;
  p.tdmrs = from.platform.tdmrs.map((t) => ({ ...t, reserved: [...t.reserved] }));
  p.globalHkid = from.platform.globalHkid;
  p.packagesKeyConfigured = new Set(from.platform.packagesKeyConfigured);
  p.addOnFeatures = h.addOnFeatures;
  // The pool stays with the module; the extensions and quoting keys must be set up again.
  p.extensions = {
    memory: [...from.platform.extensions.memory],
    initialized: false,
    quoteInitialized: false,
  };
  p.extInitProgress = 0;
  p.quoteInitProgress = 0;
  p.updatePending = true;
  for (const [k, v] of from.platform.mdFields) p.mdFields.set(k, v);
  into.pamt.copyFrom(from.pamt);
  for (const [k, v] of from.kot) into.kot.set(k, v);
  for (const [k, v] of from.kotWbinvdPending) into.kotWbinvdPending.set(k, new Set(v));
  for (const [k, v] of from.tds) into.tds.set(k, v);
  for (const [k, v] of from.vcpus) into.vcpus.set(k, v);
}
