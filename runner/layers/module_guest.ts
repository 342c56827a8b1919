// The guest side of the module layer's `tdcall` step: a scripted program for each TD,
// run by the CPU's guest execution model (Cpu.attachGuestProgram). Each time the host
// enters a vCPU, its program takes the job the step queued for that vCPU: it writes
// guest memory, executes the one TDCALL, reads guest memory, and exits to the host with
// TDG.VP.VMCALL. Guest memory accesses go the way the CPU resolves them (private GPAs
// through the TD's Secure EPT with its private KeyID, shared GPAs through the shared
// EPT, or straight to host memory where the host has none, as in a module-only model).
// impl/platform/td_guest_memory.ts does the same for a TD behind KVM, but it needs the
// KVM VM and the VMM's memory slots, which this layer does not have.
// After a TD exit in the TDCALL the guest abandons it, unless the host resumes the vCPU
// for it (`resume`): then the TDCALL completes (one left pending while an L2 VM ran) or is
// executed again (any other). An L2 VM of the TD (TD partitioning) runs the L2 jobs the
// step queued for it, in order: a VM exit with its exit information, or a TDCALL with the
// registers it sets; once they are used up the VM keeps running until the host takes the
// processor back (an external-interrupt exit), as an L2 VM with no software does.
import type { Spec } from "../../impl/spec/mod.ts";
import type { Cpu } from "../../impl/cpu/cpu.ts";
import type { GuestPort } from "../../impl/cpu/guest_execution.ts";
import { leafRegisters } from "../../impl/cpu/leaf_call.ts";
import type { Gpr, Registers } from "../../impl/cpu/registers.ts";
import type { TdxModule } from "../../impl/module/module.ts";
import { attachL2Program, type L2Entry, type L2Stop } from "../../impl/module/l2_guest.ts";
import type { L2ExitInfo } from "../../impl/module/l2_state.ts";
import { septGeometry, translateGpa } from "../../impl/module/sept.ts";
import { traits } from "../../impl/module/sept_states.ts";
import type { TdState } from "../../impl/module/state.ts";

const PAGE = 4096n;

/** One tdcall step, as the guest runs it. */
export interface GuestJob {
  /** The TDCALL's registers (RAX holds the leaf); the module updates them in place. */
  regs: Registers;
  /** The TDCALL is TDG.VP.VMCALL: its exit is the host's, and a re-entry completes it. */
  isVmcall: boolean;
  writes: { gpa: bigint; bytes: Uint8Array }[];
  reads: { gpa: bigint; length: number }[];
  outcome?: GuestOutcome;
  /** Bytes of each read, in order (until a read faults). */
  memory: Uint8Array[];
  /** The first guest access that did not translate to accessible memory. */
  fault?: bigint;
  /** Instead of a TDCALL, the CPU leaves the TD with this VM exit (`td.cpu_exit`). */
  vmExit?: { info: bigint; qualification: bigint; ripAdvance?: bigint };
  /** Why the module would not take `vmExit`. */
  vmExitError?: string;
  /**
   * Set by the host when it enters the vCPU again after the TDCALL's TD exit so that the
   * TDCALL goes on (`resume`); the guest clears it when it runs again.
   */
  resume?: boolean;
}

/** What an L2 VM does when the module enters (or resumes) it. */
export type L2Job =
  /** A VM exit with its exit information. */
  | { exit: L2ExitInfo }
  /** A TDCALL; `regs` overwrite the VM's GPRs first (RAX holds the leaf). */
  | { tdcall: Partial<Record<Gpr, bigint>> };

/** The number of L2 VMs a TD can have (TD partitioning: VMs 1..3). */
const MAX_L2_VM = 3;

export type GuestOutcome =
  /** The TDCALL returned to the guest with a status in RAX. */
  | "completed"
  /** The TDCALL did not complete and the guest kept running (a #VE was delivered). */
  | "ve"
  /** The TDCALL did not complete: a TD exit (an EPT violation, ...) not resumed from. */
  | "td-exit"
  /** The TDCALL under test was TDG.VP.VMCALL and waits for the host to resume the vCPU. */
  | "vmcall-exit"
  /** A memory write before the TDCALL faulted: the TDCALL was not executed. */
  | "write-fault";

/** Guest memory of one TD: private through the Secure EPT, shared through the shared bit. */
export class ModuleGuestMemory {
  constructor(
    private readonly spec: Spec,
    private readonly cpu: Cpu,
    private readonly td: () => TdState,
  ) {}

  /** The physical address (with KeyID) the guest reaches at `gpa`, or undefined on a fault. */
  private physical(gpa: bigint, write: boolean): bigint | undefined {
    const td = this.td();
    const shared = septGeometry(this.spec, td).sharedBit;
    if ((gpa & shared) !== 0n) {
      const plain = gpa & ~shared;
      if (!td.sharedEpt) return this.cpu.memory.withKeyId(plain, 0);
      const page = td.sharedEpt.get(plain & ~(PAGE - 1n));
      return page === undefined ? undefined : this.cpu.memory.withKeyId(page + (plain & 0xFFFn), 0);
    }
    const t = translateGpa(this.spec, td, gpa);
    if (!t.ok) return undefined;
    // A PENDING or BLOCKED leaf grants nothing; a BLOCKEDW one only reads.
    const rwx = traits(t.state).rwx;
    if ((rwx & (write ? 2n : 1n)) === 0n) return undefined;
    return this.cpu.memory.withKeyId(t.hpa, td.hkid);
  }

  private each(
    gpa: bigint,
    length: number,
    write: boolean,
    f: (pa: bigint, at: number, n: number) => void,
  ): bigint | undefined {
    let done = 0;
    while (done < length) {
      const a = gpa + BigInt(done);
      const n = Math.min(length - done, Number(PAGE - (a & (PAGE - 1n))));
      const pa = this.physical(a, write);
      if (pa === undefined) return a;
      f(pa, done, n);
      done += n;
    }
    return undefined;
  }

  /** The bytes at `gpa`, or the GPA of the first byte the guest cannot read. */
  read(gpa: bigint, length: number): { bytes: Uint8Array } | { fault: bigint } {
    const out = new Uint8Array(length);
    const fault = this.each(gpa, length, false, (pa, at, n) => {
      out.set(this.cpu.memory.read(pa, n), at);
    });
    return fault === undefined ? { bytes: out } : { fault };
  }

  /** Writes `bytes` at `gpa`; returns the GPA of the first byte it could not write. */
  write(gpa: bigint, bytes: Uint8Array): bigint | undefined {
    return this.each(gpa, bytes.length, true, (pa, at, n) => {
      this.cpu.memory.write(pa, bytes.subarray(at, at + n));
    });
  }
}

/** The scripted software of one TD: every vCPU runs the jobs queued for it. */
export class ScriptedTd {
  /** The job each vCPU (by index) runs on its next entry. */
  readonly jobs = new Map<number, GuestJob>();
  /** The L2 jobs of each vCPU's L2 VMs (key `vcpuIndex:vm`), taken in order. */
  readonly l2Jobs = new Map<string, L2Job[]>();
  /** How many times the module entered an L2 VM of this TD (the L2 software ran). */
  l2Runs = 0;
  readonly memory: ModuleGuestMemory;

  constructor(
    private readonly spec: Spec,
    cpu: Cpu,
    private readonly module: () => TdxModule,
    readonly tdr: bigint,
  ) {
    this.memory = new ModuleGuestMemory(spec, cpu, () => {
      const td = this.module().state.tds.get(tdr);
      if (!td) throw new Error(`no TD at TDR 0x${tdr.toString(16)}`);
      return td;
    });
    cpu.attachGuestProgram(tdr, (port) => this.program(port));
  }

  /** Queues `jobs` for VM `vm` of vCPU `vcpuIndex`, replacing what was left. */
  queueL2(vcpuIndex: number, vm: number, jobs: L2Job[]): void {
    // The module of the moment runs the VMs (a TD-preserving update installs a new one).
    for (let v = 1; v <= MAX_L2_VM; v++) {
      attachL2Program(this.module().state, this.tdr, v, (e) => this.l2Program(e));
    }
    this.l2Jobs.set(`${vcpuIndex}:${vm}`, [...jobs]);
  }

  /** The L2 VM's software: its next job, else it runs until the host takes the LP back. */
  private l2Program(entry: L2Entry): L2Stop {
    this.l2Runs++;
    const job = this.l2Jobs.get(`${entry.vcpuIndex}:${entry.vm}`)?.shift();
    if (!job) return { kind: "vm-exit", exit: { reason: "INTERRUPT" } };
    if ("exit" in job) return { kind: "vm-exit", exit: job.exit };
    for (const [r, v] of Object.entries(job.tdcall)) entry.regs.gprs[r as Gpr] = v!;
    return { kind: "tdcall" };
  }

  private *program(port: GuestPort): Generator<void, void, void> {
    for (;;) {
      const job = this.jobs.get(port.vcpuIndex);
      this.jobs.delete(port.vcpuIndex);
      // After a TD exit in the TDCALL, the next entry starts the next job: the guest
      // abandons the TDCALL rather than running it again.
      if (job && (yield* this.run(port, job))) continue;
      this.exitToHost(port);
      yield;
    }
  }

  /** Runs one job; true when the TDCALL ended in a TD exit (the guest already yielded). */
  private *run(port: GuestPort, job: GuestJob): Generator<void, boolean, void> {
    for (const w of job.writes) {
      const fault = this.memory.write(w.gpa, w.bytes);
      if (fault !== undefined) {
        job.fault = fault;
        job.outcome = "write-fault";
        return false;
      }
    }
    if (job.vmExit) {
      const { info, qualification, ripAdvance } = job.vmExit;
      const error = port.vmExit(info, qualification, ripAdvance);
      if (error !== undefined) {
        job.vmExitError = error;
        return false;
      }
      job.outcome = "td-exit";
      yield;
      return true;
    }
    const input = { ...job.regs };
    port.tdcall(job.regs);
    let completed = this.module().last?.completion.name !== "TDCALL_NOT_COMPLETED";
    while (!completed && port.exitRequested) {
      job.outcome = "td-exit";
      // A TD exit from an L2 VM leaves L1's TDG.VP.ENTER pending: L1 runs again only
      // when the VM exits to it, and the TDCALL has completed. Any other TD exit left
      // the guest at its TDCALL, which it executes again when resumed.
      const inL2 = this.currentVm(port.vcpuIndex) !== 0;
      yield;
      if (!job.resume) return true;
      job.resume = false;
      if (inL2) {
        completed = true;
        break;
      }
      Object.assign(job.regs, input);
      port.tdcall(job.regs);
      completed = this.module().last?.completion.name !== "TDCALL_NOT_COMPLETED";
    }
    if (!completed) job.outcome = "ve";
    else if (job.outcome === "td-exit") job.outcome = "completed";
    else if (port.exitRequested) {
      // TDG.VP.VMCALL under test: the host resumes the vCPU and the TDCALL completes.
      job.outcome = "vmcall-exit";
      yield;
      job.outcome = "completed";
    } else job.outcome = "completed";
    for (const r of job.reads) {
      const got = this.memory.read(r.gpa, r.length);
      if ("fault" in got) {
        job.fault = got.fault;
        break;
      }
      job.memory.push(got.bytes);
    }
    return false;
  }

  /** The VM the vCPU runs in (0: L1), as the module's state has it. */
  private currentVm(vcpuIndex: number): number {
    for (const v of this.module().state.vcpus.values()) {
      if (v.tdr === this.tdr && v.index === vcpuIndex) return v.currVm ?? 0;
    }
    return 0;
  }

  /** TDG.VP.VMCALL passing no register: back to the host, the step is over. */
  private exitToHost(port: GuestPort): void {
    port.tdcall(leafRegisters(this.spec, this.spec.tdcall("TDG.VP.VMCALL"), {}));
  }
}
