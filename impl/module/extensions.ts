// The 2026 module extensions as the platform leaves see them: which TDX_FEATURES0 bits
// this build offers, which of them are add-on features a host selects with TDH.SYS.CONFIG
// or TDH.SYS.UPDATE version 1, and how much of the extensions' memory pool is still
// missing. Provisional, like the extension leaves themselves.
import type { Spec } from "../spec/mod.ts";
import { encodeBits } from "../spec/bits.ts";
import type { LeafContext } from "./leaf_context.ts";
import type { ModuleProfile } from "./module_profile.ts";
import type { ModuleState } from "./state.ts";

/** Features that run in the extensions and so are selected as add-ons (the Quoting extension). */
const ADD_ON_FEATURES = ["QUOTE"];

export function features0(spec: Spec, profile: ModuleProfile): bigint {
  const layout = spec.bitfield("TDX_FEATURES0").fields;
  return encodeBits(layout, Object.fromEntries(profile.features0.map((f) => [f, 1n])));
}

export function hasFeature(state: ModuleState, name: string): boolean {
  return state.profile.features0.includes(name);
}

/** Whether this build has the extensions at all (TDH.EXT.*, version 1 of CONFIG/UPDATE). */
export function extensionsSupported(state: ModuleState): boolean {
  return hasFeature(state, "EXT");
}

export function addOnMask(spec: Spec, state: ModuleState): bigint {
  if (!extensionsSupported(state)) return 0n;
  const offered = ADD_ON_FEATURES.filter((f) => hasFeature(state, f));
  const layout = spec.bitfield("TDX_FEATURES0").fields;
  return encodeBits(layout, Object.fromEntries(offered.map((f) => [f, 1n])));
}

/** An add-on bitmap asking for anything this build cannot add (the model's choice of check). */
export function addOnFeaturesInvalid(ctx: LeafContext, bits: bigint): boolean {
  return (bits & ~addOnMask(ctx.spec, ctx.state)) !== 0n;
}

export function addOnEnabled(spec: Spec, state: ModuleState, name: string): boolean {
  const layout = spec.bitfield("TDX_FEATURES0").fields;
  return (state.platform.addOnFeatures & encodeBits(layout, { [name]: 1n })) !== 0n;
}

/** EXT_REQUIRED: an enabled add-on needs the extensions initialised. */
export function extRequired(state: ModuleState): boolean {
  return state.platform.addOnFeatures !== 0n;
}

/** MEMORY_POOL_REQUIRED_PAGES: pool pages still to be given with TDH.EXT.MEM.ADD. */
export function poolPagesMissing(state: ModuleState): number {
  if (!extRequired(state)) return 0;
  const need = state.profile.extensions.memoryPoolPages;
  return Math.max(0, need - state.platform.extensions.memory.length);
}
