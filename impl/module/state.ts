// The TDX module's state: platform initialisation, TDMRs, the PAMT, the KeyID
// ownership table, and every TD and vCPU. State names are the enum value names of
// the spec (SYS_STATE, TD_LIFECYCLE_STATE, OP_STATE, KOT_ENTRY_STATE, PAGE_TYPE).
import { createHash, type Hash } from "node:crypto";
import { LockTable } from "./locks.ts";
import { Pamt } from "./pamt.ts";

export interface Tdmr {
  base: bigint;
  size: bigint;
  pamt4kBase: bigint;
  pamt4kSize: bigint;
  pamt2mBase: bigint;
  pamt2mSize: bigint;
  pamt1gBase: bigint;
  pamt1gSize: bigint;
  reserved: { offset: bigint; size: bigint }[];
  /** Bytes from `base` already initialised by TDH.SYS.TDMR.INIT. */
  initialized: bigint;
}

export interface SeptEntry {
  /** SEPT_ENTRY_STATE name, e.g. SEPT_PRESENT, SEPT_BLOCKED, SEPT_PENDING, SEPT_FREE. */
  state: string;
  /** Host physical address of the mapped page or the next-level SEPT page. */
  hpa: bigint;
  /** 0 = 4 KiB leaf ... 3 = 512 GiB; entries at level > 0 map either a large page or a table. */
  level: number;
  leaf: boolean;
  /** Guest-visible attributes of TDG.MEM.PAGE.ATTR.* (per L2 VM permissions; L1 only here). */
  attributes: bigint;
  /** TD epoch at which the entry was blocked. */
  blockedEpoch?: bigint;
}

export interface VcpuState {
  tdvpr: bigint;
  tdr: bigint;
  tdcx: bigint[];
  /** VCPU_STATE per TDH.VP.CREATE / INIT / ENTER life cycle. */
  state: "created" | "initialized" | "running" | "torn-down";
  index: number;
  /** Logical processor the vCPU is associated with (TDH.VP.FLUSH clears it), or undefined. */
  associatedLp?: number;
  launched: boolean;
  /** Guest general-purpose registers, kept while the vCPU is not running. */
  gprs: Map<string, bigint>;
  /** Metadata fields written with TDH.VP.WR / TDG.VP.WR, by field id. */
  fields: Map<bigint, bigint>;
  veInfo?: { valid: boolean; exitReason: bigint; qualification: bigint; gla: bigint; gpa: bigint };
  /** CPUID leaves the guest asked to get #VE for (TDG.VP.CPUIDVE.SET). */
  cpuidVe: { supervisor: boolean; user: boolean };
  /** The guest program's pending exit, while the vCPU is outside the TD. */
  pendingExit?: unknown;
}

export interface TdState {
  tdr: bigint;
  hkid: number;
  /** TD_LIFECYCLE_STATE name. */
  lifecycle: string;
  /** OP_STATE name. */
  opState: string;
  /** Packages on which TDH.MNG.KEY.CONFIG has programmed the TD's key. */
  keyConfiguredPackages: Set<number>;
  tdcx: bigint[];
  /** TD_PARAMS as decoded by the codec at TDH.MNG.INIT. */
  params?: Record<string, unknown>;
  attributes: bigint;
  xfam: bigint;
  maxVcpus: number;
  vcpus: bigint[];
  /** Running SHA-384 of MRTD until TDH.MR.FINALIZE. */
  mrtdHash: Hash;
  mrtd?: Uint8Array;
  rtmr: Uint8Array[];
  mrconfigid: Uint8Array;
  mrowner: Uint8Array;
  mrownerconfig: Uint8Array;
  finalized: boolean;
  /** TLB-tracking epoch advanced by TDH.MEM.TRACK. */
  epoch: bigint;
  /** SEPT entries keyed by `${level}:${gpa}` (gpa aligned to the level's size). */
  sept: Map<string, SeptEntry>;
  septRoot?: bigint;
  /** TD-scope metadata written with TDH.MNG.WR / TDG.VM.WR, by field id. */
  fields: Map<bigint, bigint>;
  /** vCPUs entered but not yet flushed, for TDH.MNG.VPFLUSHDONE. */
  vcpusAssociated: Set<bigint>;
}

export interface PlatformState {
  /** SYS_STATE name. */
  sysState: string;
  lpInitialized: Set<number>;
  lpShutdown: Set<number>;
  packagesKeyConfigured: Set<number>;
  globalHkid?: number;
  tdmrs: Tdmr[];
  /** Add-on feature bitmap given to TDH.SYS.CONFIG version 1 (provisional, 2026 extensions). */
  addOnFeatures: bigint;
  extensions: {
    /** Pages handed to the module by TDH.EXT.MEM.ADD. */
    memory: bigint[];
    initialized: boolean;
    quoteInitialized: boolean;
  };
  /** Set by TDH.SYS.UPDATE until the new module is initialised. */
  updatePending: boolean;
}

export class ModuleState {
  readonly platform: PlatformState = {
    sysState: "SYSINIT_PENDING",
    lpInitialized: new Set(),
    lpShutdown: new Set(),
    packagesKeyConfigured: new Set(),
    tdmrs: [],
    addOnFeatures: 0n,
    extensions: { memory: [], initialized: false, quoteInitialized: false },
    updatePending: false,
  };
  readonly pamt = new Pamt();
  readonly locks = new LockTable();
  /** KOT_ENTRY_STATE name by HKID; absent means HKID_FREE. */
  readonly kot = new Map<number, string>();
  readonly tds = new Map<bigint, TdState>();
  readonly vcpus = new Map<bigint, VcpuState>();
  /** The vCPU (its TDVPR address) each logical processor is running, while in a TD. */
  readonly lpCurrentVcpu = new Map<number, bigint>();
  /** Key used for REPORTMACSTRUCT MACs (model-defined: the real key is not public). */
  readonly reportMacKey: Uint8Array;

  constructor(seed: Uint8Array<ArrayBuffer> = new Uint8Array(32)) {
    this.reportMacKey = createHash("sha256").update("tdx-conformance report MAC key").update(seed)
      .digest();
  }

  newTd(tdr: bigint, hkid: number): TdState {
    const td: TdState = {
      tdr,
      hkid,
      lifecycle: "TD_HKID_ASSIGNED",
      opState: "OP_STATE_UNINITIALIZED",
      keyConfiguredPackages: new Set(),
      tdcx: [],
      attributes: 0n,
      xfam: 0n,
      maxVcpus: 0,
      vcpus: [],
      mrtdHash: createHash("sha384"),
      rtmr: [0, 1, 2, 3].map(() => new Uint8Array(48)),
      mrconfigid: new Uint8Array(48),
      mrowner: new Uint8Array(48),
      mrownerconfig: new Uint8Array(48),
      finalized: false,
      epoch: 1n,
      sept: new Map(),
      fields: new Map(),
      vcpusAssociated: new Set(),
    };
    this.tds.set(tdr, td);
    return td;
  }
}
