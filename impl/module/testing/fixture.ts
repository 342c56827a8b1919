// Test support: a CPU with the reference TDX module loaded, and calls by leaf name.
import { type Spec, theSpec } from "../../spec/mod.ts";
import { Cpu, DEFAULT_PLATFORM, type PlatformConfig } from "../../cpu/cpu.ts";
import { leafRegisters, readOutputs, seamcallByName } from "../../cpu/leaf_call.ts";
import type { ModuleProfile } from "../module_profile.ts";
import { TdxModule } from "../module.ts";
import { describeStatus } from "../completion.ts";
import { PageAllocator, type PlannedTdmr, planTdmrs, usableAreas } from "./platform_layout.ts";
import { StructCodec } from "../../spec/codec.ts";
import { platformLimit, platformLimitN } from "../platform_limits.ts";
import {
  type CreatedTd,
  createTd,
  type CreateTdOptions,
  createVcpu,
  type CreateVcpuOptions,
  finalizeTd,
} from "./td_fixture.ts";

export interface CallResult {
  status: bigint;
  /** Status name from the spec (detail bits cleared), or undefined for an unknown value. */
  name: string | undefined;
  detail: bigint;
  /** The operand name the detail encodes, when it is an OPERAND_ID. */
  operand: string | undefined;
  out: Record<string, bigint>;
}

export class Platform {
  readonly spec: Spec;
  readonly cpu: Cpu;
  /** The loaded module; `loadNewModule` replaces it (a TD-preserving update). */
  module: TdxModule;

  constructor(config: PlatformConfig = DEFAULT_PLATFORM) {
    this.spec = theSpec();
    this.cpu = new Cpu(this.spec, config);
    this.module = new TdxModule(this.spec, this.cpu);
    this.cpu.loadModule(this.module);
  }

  private operandNames?: Map<bigint, string>;

  describe(status: bigint): Omit<CallResult, "out" | "status"> {
    const { name, detail } = describeStatus(this.spec, status);
    this.operandNames ??= new Map(
      this.spec.enum("OPERAND_ID").values.map((v) => [BigInt(v.value), v.name]),
    );
    return { name, detail, operand: this.operandNames.get(detail) };
  }

  /** SEAMCALL by leaf name with inputs by register name. */
  seamcall(
    name: string,
    inputs: Record<string, bigint | number> = {},
    opts: { lp?: number; version?: number } = {},
  ): CallResult {
    const r = seamcallByName(this.cpu, opts.lp ?? 0, name, inputs, opts.version ?? 0);
    if (r.outcome.kind !== "completed") {
      throw new Error(`SEAMCALL ${name} ended with ${r.outcome.kind}`);
    }
    return { status: r.status, ...this.describe(r.status), out: r.out };
  }

  /**
   * The SEAM loader installs a new module build (a TD-preserving update): the CPU, its
   * memory and the SEAM handoff area stay; the new module starts in SYSINIT_PENDING.
   */
  loadNewModule(profile?: ModuleProfile): TdxModule {
    this.module = new TdxModule(this.spec, this.cpu);
    if (profile) this.module.state.profile = profile;
    this.cpu.loadModule(this.module);
    return this.module;
  }

  /**
   * SEAMCALL with a raw RAX: the leaf's number and `version`, with `raxExtra` OR-ed in
   * (e.g. reserved bits), for the dispatcher's RAX checks.
   */
  seamcallRaw(
    name: string,
    inputs: Record<string, bigint | number> = {},
    opts: { lp?: number; version?: number; raxExtra?: bigint } = {},
  ): CallResult {
    const leaf = this.spec.seamcall(name);
    const regs = leafRegisters(this.spec, leaf, inputs, opts.version ?? 0);
    regs.RAX |= opts.raxExtra ?? 0n;
    const outcome = this.cpu.seamcall(opts.lp ?? 0, regs);
    if (outcome.kind !== "completed") {
      throw new Error(`SEAMCALL ${name} ended with ${outcome.kind}`);
    }
    return { status: regs.RAX, ...this.describe(regs.RAX), out: readOutputs(leaf, regs) };
  }

  // ------------------------------------------------------------------ platform bring-up

  private plan?: PlannedTdmr[];
  private allocator?: PageAllocator;
  private readonly hkidsHandedOut = new Set<number>();

  /** The TDMRs, PAMTs and reserved areas this fixture gives TDH.SYS.CONFIG. */
  tdmrPlan(): PlannedTdmr[] {
    this.plan ??= planTdmrs(this.cpu.platform.cmrs, {
      pamtEntrySize: platformLimit(this.spec, "PAMT_ENTRY_SIZE"),
      maxReservedPerTdmr: platformLimitN(this.spec, "MAX_RESERVED_PER_TDMR"),
    });
    return this.plan;
  }

  /** A distinct, aligned, never handed out range of usable TDMR memory (outside PAMTs). */
  allocRange(size: bigint, alignment = 4096n): bigint {
    this.allocator ??= new PageAllocator(usableAreas(this.tdmrPlan()));
    return this.allocator.alloc(size, alignment);
  }

  /** A distinct 4 KiB page inside the TDMRs, outside PAMT and reserved areas. */
  allocPage(): bigint {
    return this.allocRange(4096n, 4096n);
  }

  /** The next private HKID neither in use in the KOT nor handed out before. */
  freeHkid(): number {
    const min = this.cpu.platform.sharedKeyIds + 1;
    const max = this.cpu.platform.sharedKeyIds + this.cpu.platform.privateKeyIds;
    for (let h = min; h <= max; h++) {
      const st = this.module.state.kot.get(h);
      if ((st === undefined || st === "HKID_FREE") && !this.hkidsHandedOut.has(h)) {
        this.hkidsHandedOut.add(h);
        return h;
      }
    }
    throw new Error("no free private HKID left");
  }

  /** Writes TDMR_INFO entries and their pointer array to host memory; returns the array's address. */
  writeTdmrInfo(tdmrs: PlannedTdmr[] = this.tdmrPlan()): bigint {
    const codec = new StructCodec(this.spec);
    const perTdmr = platformLimitN(this.spec, "MAX_RESERVED_PER_TDMR");
    const array = this.allocPage();
    const pointers = new Uint8Array(8 * tdmrs.length);
    const view = new DataView(pointers.buffer);
    tdmrs.forEach((t, i) => {
      const at = this.allocPage();
      const reserved = Array.from({ length: perTdmr }, (_, j) => {
        const r = t.reserved[j];
        return { offset: r ? r.base - t.base : 0n, size: r ? r.size : 0n };
      });
      this.cpu.memory.write(
        at,
        codec.encode("TDMR_INFO", {
          tdmr_base: t.base,
          tdmr_size: t.size,
          pamt_1g_base: t.pamt1g.base,
          pamt_1g_size: t.pamt1g.size,
          pamt_2m_base: t.pamt2m.base,
          pamt_2m_size: t.pamt2m.size,
          pamt_4k_base: t.pamt4k.base,
          pamt_4k_size: t.pamt4k.size,
          reserved_areas: reserved,
        }),
      );
      view.setBigUint64(8 * i, at, true);
    });
    this.cpu.memory.write(array, pointers);
    return array;
  }

  private expectOk(name: string, r: CallResult): CallResult {
    if (r.name !== "TDX_SUCCESS") {
      throw new Error(`${name} failed: ${r.name} (detail 0x${r.detail.toString(16)})`);
    }
    return r;
  }

  /** TDH.SYS.INIT, then TDH.SYS.LP.INIT on every LP. */
  initLps(): void {
    this.expectOk("TDH.SYS.INIT", this.seamcall("TDH.SYS.INIT"));
    for (const lp of this.cpu.lps) {
      this.expectOk("TDH.SYS.LP.INIT", this.seamcall("TDH.SYS.LP.INIT", {}, { lp: lp.id }));
    }
  }

  /** TDH.SYS.CONFIG with this fixture's TDMRs; version 1 when add-on features are given. */
  configure(opts: { addOnFeatures?: bigint; globalHkid?: number } = {}): void {
    const addOn = opts.addOnFeatures ?? 0n;
    const inputs: Record<string, bigint | number> = {
      tdmr_info_pa_array: this.writeTdmrInfo(),
      num_tdmr_entries: this.tdmrPlan().length,
      global_private_hkid: opts.globalHkid ?? this.freeHkid(),
    };
    if (addOn !== 0n) inputs.addon_features0 = addOn;
    this.expectOk(
      "TDH.SYS.CONFIG",
      this.seamcall("TDH.SYS.CONFIG", inputs, { version: addOn !== 0n ? 1 : 0 }),
    );
  }

  /** TDH.SYS.KEY.CONFIG on the first LP of every package. */
  configureKeys(): void {
    const done = new Set<number>();
    for (const lp of this.cpu.lps) {
      const pkg = this.cpu.packageOf(lp.id);
      if (done.has(pkg)) continue;
      done.add(pkg);
      this.expectOk("TDH.SYS.KEY.CONFIG", this.seamcall("TDH.SYS.KEY.CONFIG", {}, { lp: lp.id }));
    }
  }

  /** TDH.SYS.TDMR.INIT on every TDMR until each is initialised. */
  initTdmrs(): void {
    for (const t of this.tdmrPlan()) {
      let next = 0n;
      while (next < t.base + t.size) {
        const r = this.expectOk(
          "TDH.SYS.TDMR.INIT",
          this.seamcall("TDH.SYS.TDMR.INIT", { tdmr_base: t.base }),
        );
        next = r.out.next_to_initialize;
      }
    }
  }

  /**
   * Brings the module up through real SEAMCALLs, as a host kernel does: TDH.SYS.INIT,
   * TDH.SYS.LP.INIT on every LP, TDH.SYS.CONFIG (TDMRs covering the CMRs, their PAMTs,
   * a global private HKID), TDH.SYS.KEY.CONFIG once per package and TDH.SYS.TDMR.INIT
   * until every TDMR is initialised. The module is SYS_READY afterwards.
   */
  readyPlatform(opts: { addOnFeatures?: bigint } = {}): void {
    this.initLps();
    this.configure(opts);
    this.configureKeys();
    this.initTdmrs();
    const state = this.module.state.platform.sysState;
    if (state !== "SYS_READY") throw new Error(`platform bring-up ended in ${state}`);
  }

  // ------------------------------------------------------------------ TDs (td_fixture.ts)

  /** A TD built through SEAMCALLs up to `opts.stage` (default: TDH.MNG.INIT done). */
  createTd(opts: CreateTdOptions = {}): CreatedTd {
    return createTd(this, opts);
  }

  /** A vCPU of `td`: TDH.VP.CREATE, TDH.VP.ADDCX and (unless `init` is false) TDH.VP.INIT. */
  createVcpu(td: CreatedTd, opts: CreateVcpuOptions = {}): bigint {
    return createVcpu(this, td, opts);
  }

  /** TDH.MR.FINALIZE. */
  finalizeTd(td: CreatedTd): void {
    finalizeTd(this, td);
  }
}
