// TLB tracking of a TD: the TD epoch TDH.MEM.TRACK advances and, per epoch parity,
// how many vCPUs are inside the TD with translations from that epoch. A page blocked
// in epoch E is "tracked" once the epoch has moved past E and no vCPU still runs in
// E (then no TLB may hold a translation made before the block).
//
// TDH.VP.ENTER calls `enterEpoch` when a vCPU enters the TD and `exitEpoch` with the
// returned epoch when it leaves; a vCPU running on another logical processor is
// modelled by calling `enterEpoch` without the matching exit.
import type { TdState } from "./state.ts";

function refcount(td: TdState): [number, number] {
  if (!td.epochRefcount) td.epochRefcount = [0, 0];
  return td.epochRefcount;
}

/** A vCPU enters the TD: it now holds translations of the current epoch. */
export function enterEpoch(td: TdState): bigint {
  refcount(td)[Number(td.epoch & 1n)]++;
  return td.epoch;
}

/** The vCPU that entered in `epoch` has left the TD. */
export function exitEpoch(td: TdState, epoch: bigint): void {
  const rc = refcount(td);
  const i = Number(epoch & 1n);
  if (rc[i] === 0) throw new Error("exitEpoch without a matching enterEpoch");
  rc[i]--;
}

/** TDH.MEM.TRACK's check: no vCPU still runs in the epoch before the current one. */
export function previousEpochBusy(td: TdState): boolean {
  return refcount(td)[Number((td.epoch - 1n) & 1n)] !== 0;
}

export function advanceEpoch(td: TdState): void {
  td.epoch += 1n;
}

/** is_tlb_tracked: has every translation made before blocking in `bepoch` been flushed? */
export function isTlbTracked(td: TdState, bepoch: bigint): boolean {
  if (bepoch === td.epoch - 1n && refcount(td)[Number(bepoch & 1n)] === 0) return true;
  return bepoch < td.epoch - 1n;
}
