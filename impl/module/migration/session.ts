// A TD's migration context: the TDCS migration fields (keys, version, epoch, counters),
// the migration stream links of the TDCS (link 0 is the backward stream, forward stream
// i is link i + 1) and each stream's context (MIGSC). Counters the host can read as TD
// metadata (NUM_MIGS, EXPORT_COUNT, MIG_EPOCH, TOTAL_MB_COUNT ...) live in the TD's
// stored metadata map (impl/module/md_fields.ts); the rest lives here, keyed by TD.
import type { LeafContext } from "../leaf_context.ts";
import { lockKey } from "../locks.ts";
import type { TdState, VcpuState } from "../state.ts";
import type { GcmStream } from "./bundle_crypto.ts";

/** What an interrupted TDH.EXPORT/IMPORT.STATE.* left for its resumption. */
export interface InterruptedState {
  /** RAX of the interrupted call (leaf and version). */
  func: bigint;
  pageListInfo: bigint;
  numProcessed: number;
  /** Next field to export or import, by scope. */
  fieldId: bigint;
  sysMigrated: boolean;
  /** The vCPU of an interrupted TDH.EXPORT/IMPORT.STATE.VP. */
  tdvpr?: bigint;
}

/** One migration stream context page. */
export interface Migsc {
  pa: bigint;
  /** Index of the stream's link in the TDCS (0 = backward). */
  index: number;
  ivCounter: bigint;
  nextMbCounter: number;
  expectedMbCounter: number;
  interrupted?: InterruptedState;
  /** The MBMD being built (export) or checked (import). */
  mbmd: Uint8Array;
  /** The session key migsc_init gave the stream. */
  key: Uint8Array;
  /** The AES-GCM state of the bundle in progress. */
  gcm?: GcmStream;
  /** Metadata an import has parsed so far, by field name and element. */
  imported?: Map<string, Map<number, bigint>>;
  /** Sticky parse error of an import, reported once the MAC verifies. */
  stickyStatus?: { name: string; detail?: string | bigint; ext: [bigint, bigint] };
}

export interface MigscLink {
  migsc: Migsc;
  initialized: boolean;
}

export interface TdMigration {
  links: MigscLink[];
  /** The session's keys (MIG_DEC_WORKING_KEY, MIG_ENC_WORKING_KEY). */
  migDecWorkingKey: Uint8Array;
  migEncWorkingKey: Uint8Array;
  migWorkingVersion: bigint;
  dirtyCount: bigint;
  /** TD epoch of the last write-block (TDCS.BW_EPOCH), for the exports' TLB check. */
  bwEpoch?: bigint;
  /** Pages of an aborted export still to be restored (TDCS.MIG_COUNT). */
  migCount: bigint;
  /**
   * Test injection: bytes of a metadata list page the export may fill (default 4096), so
   * that a state the model's lists fit in one page can span several.
   */
  listCapacity?: number;
}

const sessions = new WeakMap<TdState, TdMigration>();

export function migrationOf(td: TdState): TdMigration {
  let m = sessions.get(td);
  if (!m) {
    m = {
      links: [],
      migDecWorkingKey: new Uint8Array(32),
      migEncWorkingKey: new Uint8Array(32),
      migWorkingVersion: 0n,
      dirtyCount: 0n,
      migCount: 0n,
    };
    sessions.set(td, m);
  }
  return m;
}

const vcpuExports = new WeakMap<VcpuState, bigint>();

/** TDVPS.EXPORT_COUNT: the TD's EXPORT_COUNT when the vCPU's state was last exported. */
export function vcpuExportCount(vcpu: VcpuState): bigint {
  return vcpuExports.get(vcpu) ?? 0n;
}

export function setVcpuExportCount(vcpu: VcpuState, count: bigint): void {
  vcpuExports.set(vcpu, count);
}

/** Lock resources of the migration context (TDCS.MIG_LOCK) and of one stream's link. */
export const migLockKey = {
  mig: (tdr: bigint) => `mig:${tdr.toString(16)}`,
  migsc: (tdr: bigint, index: number) => `migsc:${tdr.toString(16)}:${index}`,
};

/** Takes TDCS.MIG_LOCK exclusively (operand MIG). */
export function lockMig(ctx: LeafContext, td: TdState) {
  return ctx.lock(migLockKey.mig(td.tdr), "exclusive", "MIG");
}

/** Takes a stream link's lock bit (operand MIGSC). */
export function lockMigsc(ctx: LeafContext, td: TdState, index: number) {
  return ctx.lock(migLockKey.migsc(td.tdr, index), "exclusive", "MIGSC");
}

/** migsc_init: a stream's counters restart under the session key. */
export function initMigsc(migsc: Migsc, key: Uint8Array): void {
  migsc.key = key;
  migsc.ivCounter = 0n;
  migsc.nextMbCounter = 0;
  migsc.expectedMbCounter = 0;
  migsc.interrupted = undefined;
  migsc.gcm = undefined;
}

/** Every stream (forward and backward) becomes uninitialized, as a session starts or ends. */
export function uninitializeStreams(m: TdMigration): void {
  for (const l of m.links) l.initialized = false;
}

/** The TD's TDCS lock key, for the leaves that hold OP_STATE. */
export const opStateLock = (td: TdState) => lockKey.tdcs(td.tdr);
