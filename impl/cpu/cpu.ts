// The CPU: logical processors with their operating mode, the SEAMCALL and TDCALL
// instructions, KeyID-tagged physical memory and the MSRs TDX reads.
//
// Instruction semantics follow the Intel SDM's SEAMCALL and TDCALL pseudocode:
// outside VMX operation (or in SEAM) SEAMCALL is #UD; at CPL > 0 it is #GP(0); with
// no TDX module loaded it fails with VMfailInvalid (RFLAGS.CF = 1) and the module is
// not entered. TDCALL is #UD anywhere but SEAM VMX non-root, and #GP(0) at CPL > 0.
import type { Spec } from "../spec/mod.ts";
import { decodeBits, encodeBits } from "../spec/bits.ts";
import { PhysicalMemory } from "./physical_memory.ts";
import { MsrFile } from "./msrs.ts";
import { type Registers, RFLAGS } from "./registers.ts";
import type { GuestPort, GuestProgram, GuestRunResult } from "./guest_execution.ts";
import {
  DEFAULT_PLATFORM,
  type MemoryRange,
  type PlatformConfig,
  type ResolvedPlatform,
  resolvePlatform,
  type SmrrConfig,
} from "./platform_config.ts";
import { CpuidModel } from "./cpuid.ts";
import { setPlatformMsrs } from "./platform_msrs.ts";
import { SeamDatabase } from "./seamdb.ts";

export type CpuMode = "legacy" | "vmx-root" | "vmx-non-root" | "seam-root" | "seam-non-root";

/** How an instruction ended, as software sees it. */
export type InstructionOutcome =
  | { kind: "completed" }
  | { kind: "#UD" }
  | { kind: "#GP"; errorCode: 0 }
  | { kind: "VMfailInvalid" };

/** The SEAM software the CPU enters on SEAMCALL and TDCALL: the TDX module. */
export interface SeamModule {
  /** Runs a SEAMCALL in SEAM VMX root; reads and writes the caller's registers. */
  seamcall(lp: LogicalProcessor, regs: Registers): void;
  /** Runs a TDCALL from the TD on `lp`; reads and writes the guest's registers. */
  tdcall(lp: LogicalProcessor, regs: Registers): void;
  /**
   * A VM exit out of the TD running on `lp` for an event the guest did not ask for
   * (`exitInfo`: the VM-exit reason field); an error when the module cannot take it.
   * `ripAdvance`: bytes the guest RIP moved since the entry, when the caller states it.
   */
  vmExit?(
    lp: LogicalProcessor,
    exitInfo: bigint,
    qualification: bigint,
    ripAdvance?: bigint,
  ): string | undefined;
}

/** Header of the SEAM handoff area, and what follows it (opaque to the CPU). */
export interface SeamHandoff {
  valid: boolean;
  hv: number;
  size: number;
  data: unknown;
}

export class LogicalProcessor {
  mode: CpuMode = "vmx-root";
  cpl = 0;
  rflags = 0x2n;
  /** MSRs whose value on this LP differs from the platform's (thread- or core-scope MSRs). */
  readonly msrOverrides = new Map<bigint, bigint>();
  /** SEAMOPS capabilities this LP reports, when it differs from the platform's. */
  seamCapabilities?: bigint;
  constructor(readonly id: number, readonly cpu: Cpu) {}
}

export type { MemoryRange, PlatformConfig, ResolvedPlatform, SmrrConfig };
export { DEFAULT_PLATFORM };

export class Cpu {
  readonly lps: LogicalProcessor[];
  readonly memory: PhysicalMemory;
  readonly msrs: MsrFile;
  /** The platform facts with defaults filled in. */
  readonly platform: ResolvedPlatform;
  readonly cpuid: CpuidModel;
  private module: SeamModule | undefined;
  /**
   * The handoff area at the start of the SEAM range's data region: written by a module's
   * TDH.SYS.SHUTDOWN, it survives loading another module and is read by TDH.SYS.UPDATE.
   * The CPU keeps it opaque.
   */
  seamHandoff?: SeamHandoff;
  /** The SEAM database: an entry per module build installed (impl/cpu/seamdb.ts). */
  readonly seamdb = new SeamDatabase();
  private rngBlocked = false;
  /** The MKTME key table of each package: KeyID to key. */
  private readonly keyTables = new Map<number, Map<number, bigint>>();
  private readonly keyTableBusy = new Set<number>();
  /** Guest software of each TD, keyed by the physical address of its TDR. */
  private readonly guestPrograms = new Map<bigint, GuestProgram>();
  /** A vCPU's running guest, keyed by the physical address of its VMCS (the TDVPR). */
  private readonly running = new Map<
    bigint,
    { gen: Generator<void, void, void>; port: { exit: boolean; lpId: number } }
  >();
  private rngCounter = 0n;

  constructor(readonly spec: Spec, readonly config: PlatformConfig = DEFAULT_PLATFORM) {
    this.platform = resolvePlatform(config);
    this.msrs = new MsrFile(spec);
    setPlatformMsrs(this.msrs, this.platform);
    this.msrs.writeFields("IA32_MKTME_KEYID_PARTITIONING", {
      NUM_MKTME_KIDS: BigInt(config.sharedKeyIds),
      NUM_TDX_PRIV_KIDS: BigInt(config.privateKeyIds),
    });
    this.msrs.writeFields("IA32_TME_ACTIVATE", {
      LOCK: 1n,
      TME_ENABLE: 1n,
      MK_TME_KEYID_BITS: BigInt(config.keyIdBits),
      ALGS_AES_XTS_128_WITH_INTEGRITY: 1n,
    });
    this.memory = new PhysicalMemory(config.maxPa, config.keyIdBits, (k) => this.isPrivateKeyId(k));
    this.lps = Array.from(
      { length: config.logicalProcessors },
      (_, i) => new LogicalProcessor(i, this),
    );
    this.cpuid = new CpuidModel(spec, this.platform);
  }

  private lp(lpId: number): LogicalProcessor {
    const lp = this.lps[lpId];
    if (!lp) throw new RangeError(`no logical processor ${lpId}`);
    return lp;
  }

  /** RDMSR on one LP: its own value if it has one, else the platform's (undefined: #GP). */
  rdmsr(lpId: number, index: bigint): bigint | undefined {
    return this.lp(lpId).msrOverrides.get(index) ?? this.msrs.read(index);
  }
  rdmsrNamed(lpId: number, name: string): bigint | undefined {
    return this.rdmsr(lpId, this.msrs.index(name));
  }
  /** Gives one LP its own value of an MSR (a misconfigured or inconsistent LP). */
  setLpMsr(lpId: number, name: string, value: bigint): void {
    this.lp(lpId).msrOverrides.set(this.msrs.index(name), value);
  }

  /** CPUID on one LP. */
  cpuidOn(lpId: number, leaf: number, subleaf = 0): {
    eax: number;
    ebx: number;
    ecx: number;
    edx: number;
  } {
    this.lp(lpId);
    const v = this.cpuid.read(lpId, leaf, subleaf);
    // IA32_MISC_ENABLE "limit CPUID maxval" caps the highest basic leaf reported at 2.
    const misc = this.rdmsrNamed(lpId, "IA32_MISC_ENABLE") ?? 0n;
    const limit = this.msrs.decode("IA32_MISC_ENABLE", misc).LIMIT_CPUID_MAXVAL === 1n;
    if (limit && leaf === Number(this.spec.enumValue("CPUID_LEAF", "MAX_BASIC"))) {
      v.eax = Math.min(v.eax, 2);
    }
    return v;
  }

  /** SEAMOPS leaf 0 on one LP (bitfield SEAMOPS_CAPABILITIES). */
  seamopsCapabilities(lpId: number): bigint {
    return this.lp(lpId).seamCapabilities ?? this.platform.seamCapabilities;
  }

  /** The package an LP sits in. */
  packageOf(lpId: number): number {
    this.lp(lpId);
    return this.platform.lpPackages[lpId];
  }

  /**
   * PCONFIG's MKTME_KEY_PROGRAM of a CPU-generated random key for `keyId` on the LP's
   * package. "busy" when another PCONFIG holds the package's key table (see
   * `setKeyTableBusy`), "entropy" when the random-number generator gives no key.
   */
  pconfigRandomKey(lpId: number, keyId: number): "ok" | "busy" | "entropy" {
    const pkg = this.packageOf(lpId);
    if (this.keyTableBusy.has(pkg)) return "busy";
    if (this.rngBlocked) return "entropy";
    let table = this.keyTables.get(pkg);
    if (!table) this.keyTables.set(pkg, table = new Map());
    table.set(keyId, this.rdrand64()!);
    return "ok";
  }
  /** PCONFIG clears a KeyID's key on the LP's package (MKTME_KEY_CLEAR_KEY). */
  pconfigClearKey(lpId: number, keyId: number): "ok" | "busy" {
    const pkg = this.packageOf(lpId);
    if (this.keyTableBusy.has(pkg)) return "busy";
    this.keyTables.get(pkg)?.delete(keyId);
    return "ok";
  }
  /** Whether a key is programmed for `keyId` on a package. */
  keyProgrammed(pkg: number, keyId: number): boolean {
    return this.keyTables.get(pkg)?.has(keyId) ?? false;
  }
  /** Models a PCONFIG in flight on a package (its key table is busy). */
  setKeyTableBusy(pkg: number, busy: boolean): void {
    if (busy) this.keyTableBusy.add(pkg);
    else this.keyTableBusy.delete(pkg);
  }

  /** Whether a host event is pending on the LP (IA32_INTR_PENDING not 0). */
  hostInterruptPending(lpId: number): boolean {
    return (this.rdmsrNamed(lpId, "IA32_INTR_PENDING") ?? 0n) !== 0n;
  }
  /** Makes a host interrupt pending (or not) on one LP, for interruptible SEAMCALLs. */
  pendHostInterrupt(lpId: number, pending: boolean): void {
    this.setLpMsr(
      lpId,
      "IA32_INTR_PENDING",
      pending ? encodeBits(this.spec.bitfield("IA32_INTR_PENDING").fields, { INTR: 1n }) : 0n,
    );
  }

  /** Private KeyIDs come from the partitioning MSR: the ones above the shared range. */
  isPrivateKeyId(keyId: number): boolean {
    const { fields } = decodeBits(
      this.spec.bitfield("IA32_MKTME_KEYID_PARTITIONING").fields,
      this.msrs.readNamed("IA32_MKTME_KEYID_PARTITIONING") ?? 0n,
    );
    const shared = Number(fields.NUM_MKTME_KIDS);
    return keyId > shared && keyId <= shared + Number(fields.NUM_TDX_PRIV_KIDS);
  }

  /**
   * The SEAM loader's job: install the TDX module in SEAM range memory, and record the
   * build in the SEAM database (SEAMOPS SEAMDB_INSERT) for the module's SEAMDB_GETREF.
   */
  loadModule(module: SeamModule | undefined): void {
    this.module = module;
    if (module) this.seamdb.insert();
  }
  get moduleLoaded(): boolean {
    return this.module !== undefined;
  }

  seamcall(lpId: number, regs: Registers): InstructionOutcome {
    const lp = this.lps[lpId];
    if (!lp) throw new RangeError(`no logical processor ${lpId}`);
    if (lp.mode !== "vmx-root") return { kind: "#UD" };
    if (lp.cpl > 0) return { kind: "#GP", errorCode: 0 };
    if (!this.module) {
      lp.rflags |= RFLAGS.CF;
      return { kind: "VMfailInvalid" };
    }
    lp.rflags &= ~(RFLAGS.CF | RFLAGS.ZF);
    lp.mode = "seam-root";
    try {
      this.module.seamcall(lp, regs);
    } finally {
      lp.mode = "vmx-root";
    }
    return { kind: "completed" };
  }

  tdcall(lpId: number, regs: Registers): InstructionOutcome {
    const lp = this.lps[lpId];
    if (!lp) throw new RangeError(`no logical processor ${lpId}`);
    if (lp.mode !== "seam-non-root") return { kind: "#UD" };
    if (lp.cpl > 0) return { kind: "#GP", errorCode: 0 };
    lp.mode = "seam-root";
    try {
      this.module!.tdcall(lp, regs);
    } finally {
      lp.mode = "seam-non-root";
    }
    return { kind: "completed" };
  }

  /**
   * Installs the software a TD runs. A real CPU executes it from TD memory; the model
   * binds it to the TD when the VMM loads the image.
   */
  attachGuestProgram(tdr: bigint, program: GuestProgram): void {
    this.guestPrograms.set(tdr, program);
  }

  /**
   * VM entry into a TD vCPU (SEAM root to SEAM non-root): runs its guest until it asks
   * for a TD exit or its program ends. Called by the module's TDH.VP.ENTER.
   */
  vmEnter(lp: LogicalProcessor, vmcs: bigint, tdr: bigint, vcpuIndex: number): GuestRunResult {
    let r = this.running.get(vmcs);
    if (!r) {
      const program = this.guestPrograms.get(tdr);
      if (!program) return { kind: "halted" };
      const state = { exit: false, lpId: lp.id };
      const port: GuestPort = {
        get lpId() {
          return state.lpId;
        },
        vcpuIndex,
        tdcall: (regs) => this.tdcall(state.lpId, regs),
        vmExit: (exitInfo, qualification, ripAdvance) => {
          const lp = this.lp(state.lpId);
          const error = this.module?.vmExit?.(lp, exitInfo, qualification, ripAdvance) ??
            (this.module?.vmExit ? undefined : "the loaded module takes no VM exits");
          if (error === undefined) state.exit = true;
          return error;
        },
        get exitRequested() {
          return state.exit;
        },
      };
      r = { gen: program(port), port: state };
      this.running.set(vmcs, r);
    }
    r.port.exit = false;
    r.port.lpId = lp.id;
    lp.mode = "seam-non-root";
    let step: IteratorResult<void, void>;
    try {
      step = r.gen.next();
    } finally {
      lp.mode = "seam-root";
    }
    if (step.done) {
      this.running.delete(vmcs);
      return { kind: "halted" };
    }
    return { kind: "tdvmcall" };
  }

  /** The module's request, during a TDCALL, to exit the TD once the TDCALL returns. */
  requestTdExit(lp: LogicalProcessor): void {
    for (const r of this.running.values()) if (r.port.lpId === lp.id) r.port.exit = true;
  }

  /** Forgets a vCPU's guest state (the vCPU was torn down). */
  discardGuest(vmcs: bigint): void {
    this.running.delete(vmcs);
  }

  /**
   * RDSEED/RDRAND as SEAM uses them. The model is deterministic (a counter through
   * SHA-384 by the caller) so that vectors are reproducible; `blockRng` makes it
   * report no entropy, as an exhausted DRNG does.
   */
  rdrand64(): bigint | undefined {
    if (this.rngBlocked) return undefined;
    this.rngCounter += 1n;
    // splitmix64 of the counter: deterministic, well spread.
    let z = (this.rngCounter * 0x9E3779B97F4A7C15n) & 0xFFFF_FFFF_FFFF_FFFFn;
    z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & 0xFFFF_FFFF_FFFF_FFFFn;
    z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & 0xFFFF_FFFF_FFFF_FFFFn;
    return z ^ (z >> 31n);
  }
  blockRng(blocked: boolean): void {
    this.rngBlocked = blocked;
  }
}
