// The migration keys a session latches, from the service-TD metadata the Migration TD
// writes and reads with TDG.SERVTD.WR/RD (impl/module/servtd.ts keeps them): a session
// start needs MIG_DEC_KEY_SET, takes MIG_DEC_KEY and MIG_ENC_KEY as its working keys,
// clears MIG_DEC_KEY_SET and draws the next MIG_ENC_KEY. The install/read helpers stand
// in for a Migration TD in unit tests.
import type { Spec } from "../../spec/mod.ts";
import type { Cpu } from "../../cpu/cpu.ts";
import type { LeafContext } from "../leaf_context.ts";
import type { TdState } from "../state.ts";
import { randomBytes } from "../td_random.ts";
import { catalog } from "../metadata.ts";
import { migDecKey, migEncKey, migVersion, setMigEncKey } from "../servtd.ts";
import { servtdOf } from "../servtd_state.ts";
import type { TdMigration } from "./session.ts";

/**
 * Starts a session's keys (TDH.EXPORT/IMPORT.STATE.IMMUTABLE, new command): the failure
 * status, or undefined once the working keys are latched.
 */
export function latchSessionKeys(
  ctx: LeafContext,
  td: TdState,
  m: TdMigration,
): string | undefined {
  const dec = migDecKey(ctx.spec, td);
  if (!dec) return "TDX_MIGRATION_DECRYPTION_KEY_NOT_SET";
  const enc = migEncKey(ctx.spec, td);
  // The next session's key is drawn before anything changes, so a failure changes nothing.
  const next = randomBytes(ctx.cpu, 32);
  if (!next) return "TDX_RND_NO_ENTROPY";
  m.migEncWorkingKey = enc;
  setMigEncKey(ctx.spec, td, next);
  m.migDecWorkingKey = dec;
  servtdOf(ctx.spec, td).migDecKeySet = false;
  m.migWorkingVersion = migVersion(ctx.spec, td);
  // The working copies are TD metadata too (a Migration TD may read them).
  storeBytes(ctx.spec, td, "MIG_ENC_WORKING_KEY", enc);
  storeBytes(ctx.spec, td, "MIG_DEC_WORKING_KEY", dec);
  const cat = catalog(ctx.spec);
  td.fields.set(cat.field("td", "MIG_WORKING_VERSION").baseId, m.migWorkingVersion);
  return undefined;
}

function storeBytes(spec: Spec, td: TdState, name: string, bytes: Uint8Array): void {
  const cat = catalog(spec);
  const field = cat.field("td", name);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < field.item.elements; i++) {
    td.fields.set(cat.elementId(field, i), v.getBigUint64(8 * i, true));
  }
}

/** A Migration TD's write of the whole MIG_DEC_KEY (unit tests). */
export function installMigDecKey(spec: Spec, td: TdState, key: Uint8Array): void {
  storeBytes(spec, td, "MIG_DEC_KEY", key);
  servtdOf(spec, td).migDecKeySet = true;
}

/** A Migration TD's read of MIG_ENC_KEY: a new key is drawn first (unit tests). */
export function readMigEncKey(cpu: Cpu, spec: Spec, td: TdState): Uint8Array {
  const key = randomBytes(cpu, 32);
  if (!key) throw new Error("no entropy");
  setMigEncKey(spec, td, key);
  return migEncKey(spec, td);
}
