// Stream-level steps the export and import leaves share: which link a forward stream
// index names, the bundle's GCM start, and the page list's entries.
import type { LeafContext } from "../leaf_context.ts";
import type { TdState } from "../state.ts";
import { bundleIv, GcmStream } from "./bundle_crypto.ts";
import type { Migsc, MigscLink, TdMigration } from "./session.ts";

/** Link of forward stream `i` (link 0 is the backward stream). */
export function forwardLink(m: TdMigration, i: number): MigscLink {
  return m.links[i + 1];
}

export function backwardLink(m: TdMigration): MigscLink {
  return m.links[0];
}

/** Starts a bundle's GCM computation with the IV of (ivCounter, migsIndex). */
export function startBundle(
  ctx: LeafContext,
  migsc: Migsc,
  ivCounter: bigint,
  migsIndex: number,
  direction: "encrypt" | "decrypt",
): GcmStream {
  migsc.gcm = new GcmStream(migsc.key, bundleIv(ctx.spec, ivCounter, migsIndex), direction);
  return migsc.gcm;
}

/** Entry `i` of a page list (a raw 64-bit PAGE_LIST_ENTRY). */
export function pageListEntry(ctx: LeafContext, listPa: bigint, i: number): bigint {
  const b = ctx.cpu.memory.read(listPa + BigInt(8 * i), 8);
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

/** The TD's ATTRIBUTES.MIGRATABLE. */
export function isMigratable(ctx: LeafContext, td: TdState): boolean {
  const layout = ctx.spec.bitfield("TD_ATTRIBUTES").fields;
  const bit = layout.find((f) => f.name === "MIGRATABLE")!.bits[0];
  return ((td.attributes >> BigInt(bit)) & 1n) === 1n;
}
