// Pieces the vCPU leaves' status tables share: locks to hold and TD conditions that
// SEAMCALLs reach (a blocked TD) or that can only be injected.
import type { GuestProgram } from "../../cpu/guest_execution.ts";
import { decodeBits, encodeBits } from "../../spec/bits.ts";
import { lockKey } from "../locks.ts";
import { catalog, type MdContext, mdElementLockKey } from "../metadata.ts";
import type { PendingAsyncExit } from "../state.ts";
import type { Platform } from "./fixture.ts";
import type { TdWorld, WorldOptions } from "./td_status_table.ts";

/** The TD's OP_STATE lock. */
export function opStateLock(w: TdWorld): string {
  return lockKey.tdcs(w.td.tdr);
}

/**
 * TDH.MNG.VPFLUSHDONE on a TD whose vCPUs are not associated: its keys are no longer
 * configured (TD_BLOCKED), which the vCPU leaves then refuse.
 */
export function blockTd(w: TdWorld): void {
  w.ok("TDH.MNG.VPFLUSHDONE", { tdr_pa: w.td.tdr });
}

/**
 * A TD with fewer TDCS pages than the minimum but vCPUs: no SEAMCALL sequence leaves a
 * TD like that (TDCS pages stay until teardown), so the condition is injected.
 */
export function dropTdcsPages(w: TdWorld): void {
  w.tdState.tdcx.length = 5;
}

/**
 * Guest software that makes the CPU leave the TD with an asynchronous exit: a stand-in
 * for what real hardware detects while a guest runs (a triple fault, a machine check,
 * a notification VM exit...). The program records the exit on its vCPU, as the CPU's
 * VM-exit information would, and gives the LP back.
 */
export function cpuExit(
  exit: Omit<PendingAsyncExit, "kind">,
): (p: Platform) => GuestProgram {
  return (p) =>
    function* (port) {
      const state = p.module.state;
      state.vcpus.get(state.lpCurrentVcpu.get(port.lpId)!)!.pendingExit = {
        kind: "async",
        ...exit,
      };
      yield;
    };
}

/** A finalised TD with one vCPU, whose guest makes the TD fatal on its first entry. */
export const fatalWorld: WorldOptions = {
  vcpus: [{}],
  finalize: true,
  program: cpuExit({ status: "TDX_NON_RECOVERABLE_TD", reason: "NOTIFICATION" }),
};

/** Runs the world's vCPU once: with `fatalWorld`, the TD is fatal afterwards. */
export function runToFatal(w: TdWorld): void {
  const r = w.enter();
  if (r.name !== "TDX_NON_RECOVERABLE_TD") throw new Error(`expected a fatal exit, got ${r.name}`);
}

/** The base field id of a metadata field. */
export function fieldId(w: TdWorld, scope: "td" | "vcpu", name: string): bigint {
  return BigInt(w.spec.metadataField(scope, name).field_id);
}

/** A field id with MD_FIELD_ID fields changed. */
export function withIdFields(w: TdWorld, id: bigint, v: Record<string, bigint>): bigint {
  const layout = w.spec.bitfield("MD_FIELD_ID").fields;
  const f = decodeBits(layout, id).fields;
  return encodeBits(layout, { ...f, ...v });
}

/** The lock of one metadata element of the world's TD (or vCPU), held by a concurrent writer. */
export function elementLock(w: TdWorld, scope: "td" | "vcpu", name: string): string {
  const cat = catalog(w.spec);
  const el = cat.find(scope, fieldId(w, scope, name))!;
  const c: MdContext = {
    spec: w.spec,
    cpu: w.p.cpu,
    state: w.state,
    td: w.tdState,
    vcpu: scope === "vcpu" ? w.vcpuState() : undefined,
  };
  return mdElementLockKey(c, el);
}
