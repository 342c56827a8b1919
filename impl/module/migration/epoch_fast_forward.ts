// An export session brought forward to a later in-order epoch as the TDH.EXPORT.TRACK
// calls in between would leave it, without making them: the epoch limit lies 2^32 - 2
// calls away, which no test can afford (the vectors' module.fast_forward).
import type { Spec } from "../../spec/mod.ts";
import { catalog } from "../metadata.ts";
import type { TdState } from "../state.ts";
import { migLimit } from "./limits.ts";
import { migrationOf } from "./session.ts";
import { forwardLink } from "./streams.ts";
import { opStateAllows } from "../td_gate.ts";

/** Why the session cannot be brought to epoch `to`, or undefined once it is. */
export function fastForwardExportEpoch(spec: Spec, td: TdState, to: bigint): string | undefined {
  // Where TDH.EXPORT.TRACK may run: the in-order export phase.
  if (!opStateAllows({ spec }, "TDH.EXPORT.TRACK", td.opState)) {
    return `the TD is in ${td.opState}, not the in-order export phase`;
  }
  const link = forwardLink(migrationOf(td), 0);
  if (!link.initialized) return "forward stream 0 carries no export session";
  const cat = catalog(spec);
  const id = (name: string) => cat.elementId(cat.field("td", name), 0);
  const epoch = td.fields.get(id("MIG_EPOCH")) ?? 0n;
  const last = migLimit(spec, "MIG_EPOCH_OUT_OF_ORDER") - 1n;
  if (to <= epoch || to > last) {
    return `must be above the current epoch ${epoch} and at most ${last}`;
  }
  // Each call: the next epoch, one more bundle (its token), the next IV on stream 0, and
  // the new epoch's bundle counter; none leaves anything to resume.
  const calls = to - epoch;
  td.fields.set(id("MIG_EPOCH"), to);
  td.fields.set(id("TOTAL_MB_COUNT"), (td.fields.get(id("TOTAL_MB_COUNT")) ?? 0n) + calls);
  link.migsc.ivCounter += calls;
  link.migsc.interrupted = undefined;
  link.migsc.nextMbCounter = 1;
  return undefined;
}
