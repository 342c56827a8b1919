// Epoch tokens: the MBMD that closes a migration epoch on forward stream 0, MAC'ed (no
// payload) with the stream's next IV; its TOTAL_MB counts the bundles sent so far.
import type { LeafContext } from "../leaf_context.ts";
import { encodeMbmd, macedBytes, withIvCounter, withMac } from "./mbmd.ts";
import { mbType } from "./limits.ts";
import type { Migsc } from "./session.ts";
import { startBundle } from "./streams.ts";

export function sealEpochToken(
  ctx: LeafContext,
  migsc: Migsc,
  migVersion: bigint,
  migEpoch: bigint,
  totalMb: bigint,
): Uint8Array {
  migsc.ivCounter += 1n;
  const token = encodeMbmd(ctx.spec, "MBMD_EPOCH_TOKEN", {
    mig_version: Number(migVersion),
    migs_index: 0,
    mb_type: mbType(ctx.spec, "EPOCH_TOKEN"),
    // Each epoch's bundles count from 0.
    mb_counter: 0,
    mig_epoch: Number(migEpoch),
    iv_counter: 0n,
  }, { total_mb: totalMb });
  const gcm = startBundle(ctx, migsc, migsc.ivCounter, 0, "encrypt");
  gcm.aad(macedBytes(ctx.spec, token));
  return withIvCounter(ctx.spec, withMac(ctx.spec, token, gcm.mac()), migsc.ivCounter);
}
