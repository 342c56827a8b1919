// The TDX module's state: platform initialisation, TDMRs, the PAMT, the KeyID
// ownership table, and every TD and vCPU. State names are the enum value names of
// the spec (SYS_STATE, TD_LIFECYCLE_STATE, OP_STATE, KOT_ENTRY_STATE, PAGE_TYPE).
import { createHash, type Hash } from "node:crypto";
import type { Registers } from "../cpu/registers.ts";
import { LockTable } from "./locks.ts";
import { Pamt } from "./pamt.ts";
import { defaultModuleProfile, type ModuleProfile } from "./module_profile.ts";
import type { SampledPlatform } from "./platform_sample.ts";
import type { QuoteSigner } from "./quote_signer.ts";
import type { ReportTcb } from "./report.ts";
import type { L2VcpuState } from "./l2_state.ts";
import type { TdServtd } from "./servtd_state.ts";
import type { SeamdbRef } from "../cpu/seamdb.ts";

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
  /** SEPT_ENTRY_STATE value name, e.g. FREE, MAPPED, BLOCKED, PENDING, NL_MAPPED, L2_MAPPED. */
  state: string;
  /** Host physical address of the mapped page or the next-level SEPT page. */
  hpa: bigint;
  /** 0 = 4 KiB leaf ... 3 = 512 GiB; entries at level > 0 map either a large page or a table. */
  level: number;
  leaf: boolean;
  /** Guest-visible attributes of TDG.MEM.PAGE.ATTR.* (per L2 VM permissions; L1 only here). */
  attributes: bigint;
  /** Unused by sept.ts: the module keeps the blocking epoch in the page's PAMT entry (BEPOCH). */
  blockedEpoch?: bigint;
  /** L1 entries: bit n set when L2 VM n aliases the entry (impl/module/sept.ts). */
  aliases?: number;
  /** PENDING 2 MiB leaves: 4 KiB pages already zeroed by a partial TDG.MEM.PAGE.ACCEPT. */
  acceptCounter?: number;
  /** REMOVED leaves: the migration epoch of the removal (the module's MIG_EPOCH bits). */
  migEpoch?: bigint;
}

/**
 * A guest's TDG.VP.VMCALL waiting for the host: left on the vCPU by the TDCALL handler
 * when it asks for the TD exit, consumed by TDH.VP.ENTER. `regs` is the guest's live
 * register file (the TDCALL's own Registers object); `mask` is the guest's RCX: GPR
 * select bitmap in bits 15:0 (bit n = GPR n in RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI,
 * R8..R15 order), XMM select bitmap in bits 31:16.
 */
export interface PendingTdvmcall {
  kind: "tdvmcall";
  regs: Registers;
  mask: bigint;
}

/**
 * An EPT-violation TD exit a TDCALL caused instead of completing (a GPA operand whose
 * Secure or shared EPT walk failed; TDG.MEM.PAGE.ACCEPT of a page not yet added). The
 * guest's RAX still holds the leaf, so the TDCALL runs again after the host resolves
 * the fault and re-enters. `level`/`state` say where the Secure EPT walk stopped;
 * `accept` marks the ACCEPT-type extended exit qualification.
 */
export interface PendingEptViolation {
  kind: "ept-violation";
  gpa: bigint;
  shared: boolean;
  level: number;
  state?: string;
  accept?: { level: number };
}

/**
 * Any other asynchronous TD exit raised while the guest ran: by a TDCALL the module ends
 * with a TD exit (TDG.MR.REPORT finding corrupted metadata, a host-priority busy
 * timeout), or by the CPU on the guest's behalf (a VM exit: triple fault, interrupt,
 * machine check, notification...). `status` is the TD-exit status name (TDX_SUCCESS for
 * an ordinary exit, TDX_NON_RECOVERABLE_* ...), `reason` a VMX_EXIT_REASON name; the
 * other fields are what TDH.VP.ENTER returns in RCX, RDX, R8 and R9. `regs` is the
 * guest's register file of the TDCALL a trap-like exit interrupted (the next entry may
 * set the host-recoverability hint in its RAX).
 */
export interface PendingAsyncExit {
  kind: "async";
  status: string;
  reason: string;
  qualification?: bigint;
  extQualification?: bigint;
  gpa?: bigint;
  interruptionInfo?: bigint;
  regs?: Registers;
}

export interface VcpuState {
  tdvpr: bigint;
  tdr: bigint;
  tdcx: bigint[];
  /** VCPU_STATE per TDH.VP.CREATE / INIT / ENTER life cycle. */
  state: "created" | "initialized" | "running" | "torn-down" | "disabled";
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
  pendingExit?: PendingTdvmcall | PendingEptViolation | PendingAsyncExit;
  /** LAST_TD_EXIT name of the vCPU's last TD exit (TDH.VP.INIT sets the fault-like one). */
  lastTdExit?: string;
  /** TSC at the last TD exit (TDH.VP.ENTER refuses a TSC that went backwards). */
  lastExitTsc?: bigint;
  /** x2APIC ID given to TDH.VP.INIT version 1. */
  x2apicId?: bigint;
  /** The vCPU's XFAM (the TD's, copied at TDH.VP.INIT). */
  xfam?: bigint;
  /** VM the vCPU last ran in: 0 = L1, 1-3 = L2 VMs. */
  currVm?: number;
  /** Zero-step defence: EPT-violation exits in a row without forward progress. */
  epfStreak?: number;
  /** Zero-step defence: private GPAs that kept faulting once the streak passed the threshold. */
  epfGpas?: bigint[];
  /** A virtual interrupt is pending for the guest (interruptible TDCALLs stop and resume). */
  guestInterruptPending?: boolean;
  /** Each L2 VM's TSC deadline in native TSC units (TDG.VP.WR of TSC_DEADLINE[vm]). */
  l2NativeTscDeadline?: bigint[];
  /** TSC when the guest's TDCALLs started backing off a host-priority lock (host_priority.ts). */
  hpLockBusySince?: bigint;
  /** TD partitioning: the L2 VMs' configuration and state (impl/module/l2_state.ts). */
  l2?: L2VcpuState;
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
  /** L1 SEPT entries keyed by `${level}:${gpa hex}` (gpa aligned to the level's size; sept.ts septKey). */
  sept: Map<string, SeptEntry>;
  septRoot?: bigint;
  /** L2 Secure EPT entries of L2 VM n at index n (1..3), keyed as `sept` (impl/module/sept.ts). */
  l2Sept?: Map<string, SeptEntry>[];
  /** SEPT entries (`${vm}:${level}:${gpa}`) a host-side operation found locked: guest lockers yield. */
  septHostPriority?: Set<string>;
  /** A host-side attempt found the RTMR lock held: guest attempts yield (rtmr_lock.ts). */
  rtmrHostPriority?: boolean;
  /** HP_LOCK_TIMEOUT in native TSC ticks once the host wrote it (host_priority.ts). */
  hpLockTimeoutTsc?: bigint;
  /**
   * The TDR's SEAMDB index and nonce: the SEAM database entry TDH.MNG.CREATE copied from
   * TDH.SYS.INIT's SEAMDB_GETREF, which TDG.MR.REPORT names to the CPU (absent reads as 0).
   */
  seamdb?: SeamdbRef;
  /** vCPUs inside the TD per epoch parity (TDH.VP.ENTER/exit), for TDH.MEM.TRACK (tlb_tracking.ts). */
  epochRefcount?: [number, number];
  /** TD-scope metadata written with TDH.MNG.WR / TDG.VM.WR, by field id. */
  fields: Map<bigint, bigint>;
  /** vCPUs entered but not yet flushed, for TDH.MNG.VPFLUSHDONE. */
  vcpusAssociated: Set<bigint>;
  /** TDR.FATAL: set by a non-recoverable TD exit; most leaves then answer TDX_TD_FATAL. */
  fatal?: boolean;
  /** TDR.CHLDCNT: pages (TDCX, TDVPR, TD pages, SEPT pages) owned by the TD. */
  childCount?: number;
  /** vCPUs initialised by TDH.VP.INIT (the next VCPU_INDEX). */
  numVcpus?: number;
  /** From TD_PARAMS at TDH.MNG.INIT. */
  numL2Vms?: number;
  configFlags?: bigint;
  /** EPTP with the Secure EPT root inserted. */
  eptp?: bigint;
  tscFrequency?: number;
  /** Random 256-bit TD_UUID generated by TDH.MNG.CREATE. */
  uuid?: Uint8Array;
  /** SERVTD_HASH computed at TDH.MR.FINALIZE. */
  servtdHash?: Uint8Array;
  /** Service-TD binding table and migration-key state (impl/module/servtd_state.ts). */
  servtd?: TdServtd;
  /** Virtualised CPUID values by `${leaf}:${subleaf}` (subleaf -1 when none): [eax, ebx, ecx, edx]. */
  cpuid?: Map<string, number[]>;
  /** Virtual IA32_ARCH_CAPABILITIES set at TDH.MNG.INIT. */
  ia32ArchCapabilities?: bigint;
  /**
   * The host's shared EPT as the module sees it: 4 KiB-aligned GPA (shared bit clear) to
   * HPA (no KeyID). Absent: shared GPAs map one to one (the VMM's identity layout).
   */
  sharedEpt?: Map<bigint, bigint>;
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
  /** Global metadata without special semantics, by element field id (impl/module/metadata.ts). */
  mdFields: Map<bigint, bigint>;
  /** Package of each initialised LP, from its x2APIC ID (TDH.SYS.LP.INIT). */
  lpPackage: Map<number, number>;
  /** What TDH.SYS.INIT sampled and checked (impl/module/platform_sample.ts). */
  sampled?: SampledPlatform;
  /** SYS_ATTRIBUTES given to TDH.SYS.INIT. */
  sysAttributes: bigint;
  /** TDH.PHYMEM.CACHE.WB progress per package: next cache sub-block and the HKIDs it serves. */
  cacheWb: Map<number, { nextBlock: number; hkids: number[] }>;
  /** TDH.EXT.INIT progress (pool pages initialised so far). */
  extInitProgress: number;
  /** TDH.QUOTE.INIT progress (steps done so far). */
  quoteInitProgress: number;
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
    mdFields: new Map(),
    lpPackage: new Map(),
    sysAttributes: 0n,
    cacheWb: new Map(),
    extInitProgress: 0,
    quoteInitProgress: 0,
  };
  /** Produces TDH.QUOTE.GET's quotes (impl/module/quote_signer.ts); none: quoting unavailable. */
  quoteSigner?: QuoteSigner;
  /** A TDH.QUOTE.GET interrupted part-way: its inputs and the bytes still to write. */
  quoteInProgress?: { key: string; quote: Uint8Array; written: number };
  /** This module build's identity and the SEAM loader's view of it (impl/module/module_profile.ts). */
  profile: ModuleProfile = defaultModuleProfile();
  readonly pamt = new Pamt();
  readonly locks = new LockTable();
  /** KOT_ENTRY_STATE name by HKID; absent means HKID_FREE. */
  readonly kot = new Map<number, string>();
  /**
   * Per HKID in HKID_FLUSHED, the packages on which TDH.PHYMEM.CACHE.WB has yet to write
   * back caches (the KOT entry's WBINVD bitmap): TDH.MNG.VPFLUSHDONE fills it with every
   * configured package, TDH.PHYMEM.CACHE.WB removes its package, TDH.MNG.KEY.FREEID
   * needs it empty.
   */
  readonly kotWbinvdPending = new Map<number, Set<number>>();
  readonly tds = new Map<bigint, TdState>();
  readonly vcpus = new Map<bigint, VcpuState>();
  /** The vCPU (its TDVPR address) each logical processor is running, while in a TD. */
  readonly lpCurrentVcpu = new Map<number, bigint>();
  /** The TSC each logical processor read at its last TD entry (the single-step defence). */
  readonly lpEntryTsc = new Map<number, bigint>();
  /** Key used for REPORTMACSTRUCT MACs (model-defined: the real key is not public). */
  readonly reportMacKey: Uint8Array;
  /**
   * The TCB a report describes (CPUSVN, TEE_TCB_INFO); impl/module/report.ts has the
   * defaults. A test models a TCB recovery or another module build by setting it.
   */
  reportTcb?: ReportTcb;

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
