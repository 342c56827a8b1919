// The TDX module as the CPU sees it: SEAM software entered on SEAMCALL and TDCALL.
import type { Spec } from "../spec/mod.ts";
import type { Cpu, LogicalProcessor, SeamModule } from "../cpu/cpu.ts";
import type { Registers } from "../cpu/registers.ts";
import type { Completion } from "./completion.ts";
import { dispatch, LeafTable } from "./dispatch.ts";
import type { LeafHandler } from "./leaf_context.ts";
import { ModuleState } from "./state.ts";
import { classifyVmExit } from "./td_vm_exit.ts";
import { guestTdcall } from "./host_priority.ts";
import { SEAMCALL_HANDLERS, TDCALL_HANDLERS } from "./leaves/registry.ts";

export interface CallRecord {
  kind: "seamcall" | "tdcall";
  lp: number;
  leaf: number;
  completion: Completion;
}

export class TdxModule implements SeamModule {
  readonly state: ModuleState;
  private readonly seamcalls: LeafTable;
  private readonly tdcalls: LeafTable;
  /** The last completion of each kind, for tests and traces. */
  last?: CallRecord;
  /** Observers of every call (tracing, vectors). */
  readonly observers: ((r: CallRecord) => void)[] = [];

  constructor(
    readonly spec: Spec,
    readonly cpu: Cpu,
    private readonly handlers: {
      seamcall: ReadonlyMap<string, LeafHandler>;
      tdcall: ReadonlyMap<string, LeafHandler>;
    } = { seamcall: SEAMCALL_HANDLERS, tdcall: TDCALL_HANDLERS },
    seed?: Uint8Array<ArrayBuffer>,
  ) {
    this.state = new ModuleState(seed);
    this.seamcalls = new LeafTable(spec, "seamcall");
    this.tdcalls = new LeafTable(spec, "tdcall");
  }

  seamcall(lp: LogicalProcessor, regs: Registers): void {
    const leaf = Number(regs.RAX & 0xFFFFn);
    const c = dispatch(
      this.spec,
      this.seamcalls,
      this.handlers.seamcall,
      this.cpu,
      lp,
      this.state,
      regs,
    );
    regs.RAX = c.status;
    this.record({ kind: "seamcall", lp: lp.id, leaf, completion: c });
  }

  tdcall(lp: LogicalProcessor, regs: Registers): void {
    const leaf = Number(regs.RAX & 0xFFFFn);
    // The TD dispatcher's host-priority rule wraps every TDCALL (host_priority.ts).
    const c = guestTdcall(this, lp, regs, () =>
      dispatch(
        this.spec,
        this.tdcalls,
        this.handlers.tdcall,
        this.cpu,
        lp,
        this.state,
        regs,
      ));
    regs.RAX = c.status;
    this.record({ kind: "tdcall", lp: lp.id, leaf, completion: c });
  }

  vmExit(
    lp: LogicalProcessor,
    exitInfo: bigint,
    qualification: bigint,
    ripAdvance?: bigint,
  ): string | undefined {
    const tdvpr = this.state.lpCurrentVcpu.get(lp.id);
    const vcpu = tdvpr === undefined ? undefined : this.state.vcpus.get(tdvpr);
    const td = vcpu && this.state.tds.get(vcpu.tdr);
    if (!vcpu || !td) return `no TD vCPU runs on LP ${lp.id}`;
    // The single-step defence's view of the run: the LP's TSC now against its TSC at entry.
    const msr = (name: string) => this.cpu.rdmsrNamed(lp.id, name) ?? 0n;
    const progress = ripAdvance === undefined ? undefined : {
      ripAdvance,
      tscDelta: (msr("IA32_TIME_STAMP_COUNTER") - (this.state.lpEntryTsc.get(lp.id) ?? 0n)) &
        0xFFFF_FFFF_FFFF_FFFFn,
      apicBase: msr("IA32_APIC_BASE"),
    };
    const c = classifyVmExit(this.spec, td, exitInfo, qualification, progress);
    if ("error" in c) return c.error;
    vcpu.pendingExit = { kind: "async", ...c.exit };
    return undefined;
  }

  private record(r: CallRecord) {
    this.last = r;
    for (const o of this.observers) o(r);
  }

  /** Which leaves the reference models, for the capability list. */
  capabilities(): { seamcall: string[]; tdcall: string[]; notImplemented: string[] } {
    const has = (
      m: ReadonlyMap<string, LeafHandler>,
      items: Iterable<{ name: string; implemented?: boolean }>,
    ) =>
      [...items].filter((l) => m.has(l.name) && l.implemented !== false).map((l) => l.name).sort();
    const seam = has(this.handlers.seamcall, this.spec.seamcalls.values());
    const td = has(this.handlers.tdcall, this.spec.tdcalls.values());
    const all = [...this.spec.seamcalls.keys(), ...this.spec.tdcalls.keys()];
    return {
      seamcall: seam,
      tdcall: td,
      notImplemented: all.filter((n) => !seam.includes(n) && !td.includes(n)).sort(),
    };
  }
}
