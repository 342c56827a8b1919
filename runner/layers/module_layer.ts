// The reference's module layer: a fresh platform (CPU + TDX module) per vector; steps
// write host memory, issue SEAMCALLs with registers as the vector gives them, and run
// one TDCALL in a TD's vCPU (the host enters it, a scripted guest makes the call, the
// TD's L2 VMs do what the step says, and the host may resume the vCPU after a TD exit).
import { Platform } from "../../impl/module/testing/fixture.ts";
import { leafRegisters } from "../../impl/cpu/leaf_call.ts";
import { type Gpr, GPR_NAMES, type Registers, registers } from "../../impl/cpu/registers.ts";
import { encodeBits } from "../../impl/spec/bits.ts";
import { bytesToHex, hexToBytes, parseHex, toHex } from "../../impl/spec/hex.ts";
import type { LeafItem, Spec } from "../../impl/spec/mod.ts";
import type { StepActual } from "../vector_types.ts";
import { STEPPING_ERROR } from "../../impl/module/td_vm_exit.ts";
import { type GuestJob, ScriptedTd } from "./module_guest.ts";
import { l2GuestJobs, type Resume, resumeInput } from "./module_tdcall_input.ts";
import {
  applyModuleFacts,
  cpuSet,
  fastForward,
  holdResource,
  platformFacts,
  releaseResource,
} from "./module_conditions.ts";
import { wireDiceQuoting } from "../../impl/attest/dice/testing/module_quoting.ts";

/**
 * The module layer's quoting keys, as a platform provisions them: the test DICE PKI from a
 * fixed seed (RFC 6979 signatures, so a quote is a function of its TDREPORT). The signer is
 * made when TDH.QUOTE.GET first signs, so vectors that never quote do not pay for the PKI.
 */
const QUOTING_SEED = new Uint8Array(32);

function withQuoting(p: Platform): Platform {
  p.module.state.quoteSigner = { sign: (r) => wireDiceQuoting(p, QUOTING_SEED).sign(r) };
  return p;
}

/** A status as vectors state it: its name and the operand (or raw detail), never a message. */
export function statusView(
  spec: Spec,
  value: bigint,
  describe: Platform["describe"],
): Record<string, unknown> {
  const d = describe(value);
  if (d.name === undefined) return { value: toHex(value, 16) };
  const item = spec.status(d.name);
  const view: Record<string, unknown> = { name: d.name };
  if (item.detail === "operand_id" && d.operand !== undefined) view.operand = d.operand;
  else if (d.detail !== 0n) view.detail = toHex(d.detail);
  return view;
}

/** TDH.VP.ENTER's exit information registers, reported with a TD exit. */
const EXIT_INFO_REGS: Gpr[] = ["RCX", "RDX", "R8", "R9"];

export class ModuleSession {
  private current: Platform;
  /** The scripted software of each TD a tdcall step ran in, by TDR. */
  private readonly guests = new Map<bigint, ScriptedTd>();
  private stepsRun = 0;

  /** `platform`: run on an existing platform (the vector generator records on it). */
  constructor(platform?: Platform) {
    this.current = platform ?? withQuoting(new Platform());
  }

  get platform(): Platform {
    return this.current;
  }

  step(op: string, input: Record<string, unknown>): StepActual {
    const first = this.stepsRun++ === 0;
    const p = this.platform;
    switch (op) {
      case "platform.configure": {
        // The platform's facts are fixed before anything runs on it.
        if (!first) {
          return { error: { class: "invalid-input", field: "op", why: "only as the first step" } };
        }
        const facts = platformFacts(input);
        if ("error" in facts) return facts;
        this.current = withQuoting(new Platform(facts.config));
        for (const c of facts.cpu) {
          const r = cpuSet(this.current, c.input);
          if (r.error) {
            const e = r.error as { field: string; why: string };
            const field = e.field.replace(/^cpuid\./, "");
            return { error: { ...e, field: field ? `${c.field}.${field}` : c.field } };
          }
        }
        return this.moduleFacts(facts.module);
      }
      case "seam.install": {
        // A new build with the default facts, unless the step states others.
        p.loadNewModule();
        withQuoting(p);
        return this.moduleFacts(input.module);
      }
      case "cpu.set":
        return cpuSet(p, input);
      case "module.hold":
        return holdResource(p, input);
      case "module.release":
        return releaseResource(p, input);
      case "module.fast_forward":
        return fastForward(p, input);
      case "td.cpu_exit":
        return this.cpuExit(input);
      case "memory.write":
        p.cpu.memory.write(parseHex(String(input.pa)), hexToBytes(String(input.bytes)));
        return {};
      case "memory.read":
        return {
          bytes: bytesToHex(p.cpu.memory.read(parseHex(String(input.pa)), Number(input.length))),
        };
      case "seamcall": {
        const built = this.callRegisters("seamcall", input);
        if ("error" in built) return built;
        const { leaf, regs } = built;
        const outcome = p.cpu.seamcall(Number(input.lp ?? 0), regs);
        if (outcome.kind !== "completed") return { fault: outcome.kind };
        const status = statusView(p.spec, regs.RAX, (v) => p.describe(v));
        const result: StepActual = { status };
        if (leaf && status.name === "TDX_SUCCESS") result.regs = outputs(leaf, regs);
        // `out_regs`: registers the vector judges whatever the status, such as the Secure
        // EPT entry and its level and state that RCX and RDX return on a walk or state error.
        const wanted = (input.out_regs ?? []) as string[];
        if (wanted.length) {
          const extra: Record<string, string> = {};
          for (const r of wanted) {
            if (!(GPR_NAMES as readonly string[]).includes(r)) {
              return { error: { class: "invalid-input", field: "out_regs" } };
            }
            extra[r] = toHex(regs[r as Gpr]);
          }
          result.regs = { ...(result.regs as Record<string, string> | undefined), ...extra };
        }
        return result;
      }
      case "tdcall":
        return this.tdcall(input);
    }
    return { error: { class: "unsupported-op", op } };
  }

  /** Module build facts (`module` of platform.configure and seam.install). */
  private moduleFacts(facts: unknown): StepActual {
    if (facts === undefined) return {};
    try {
      applyModuleFacts(this.platform.module.state.profile, facts);
    } catch (e) {
      const err = e as Error & { field?: string };
      return { error: { class: "invalid-input", field: err.field ?? "module", why: err.message } };
    }
    return {};
  }

  /**
   * `td.cpu_exit`: the host enters the vCPU and, while its guest runs, the CPU leaves the
   * TD with a VM exit the guest did not ask for (a triple fault, a notification, an SMI).
   */
  private cpuExit(input: Record<string, unknown>): StepActual {
    const p = this.platform;
    const tdvpr = parseHex(String(input.vcpu));
    const lp = Number(input.lp ?? 0);
    const vcpu = p.module.state.vcpus.get(tdvpr);
    const reasons = p.spec.enum("VMX_EXIT_REASON").values;
    const reason = reasons.find((v) => v.name === input.exit_reason);
    if (!reason) {
      return {
        error: { class: "invalid-input", field: "exit_reason", why: "not a VMX_EXIT_REASON" },
      };
    }
    const job: GuestJob = {
      regs: registers(),
      isVmcall: false,
      writes: [],
      reads: [],
      memory: [],
      vmExit: {
        info: BigInt(reason.value),
        qualification: parseHex(String(input.qualification ?? "0x0")),
        // Left out: the guest got far enough that the single-step defence does not look.
        ripAdvance: input.rip_advance === undefined
          ? undefined
          : parseHex(String(input.rip_advance)),
      },
    };
    if (vcpu) this.scripted(vcpu.tdr).jobs.set(vcpu.index, job);
    const entered = this.enter(lp, tdvpr, {});
    if (vcpu) this.scripted(vcpu.tdr).jobs.delete(vcpu.index);
    if (job.vmExitError) {
      // A case that needs stepping mode (which the reference does not model) is the doing of
      // the stated progress, not of the exit reason.
      const stepping = job.vmExitError.startsWith(STEPPING_ERROR);
      return {
        error: {
          class: "invalid-input",
          field: stepping ? "rip_advance" : "exit_reason",
          why: stepping ? job.vmExitError.slice(STEPPING_ERROR.length) : job.vmExitError,
        },
      };
    }
    if (!job.outcome) return { enter: this.view(entered.RAX) };
    const info: Record<string, string> = {};
    for (const r of EXIT_INFO_REGS) info[r] = toHex(entered[r]);
    return {
      td_exit: this.exitReason(entered.RAX),
      exit: { status: this.view(entered.RAX), regs: info },
    };
  }

  /** Either a leaf by name and version, or RAX as is (unknown leaves, reserved bits). */
  private callRegisters(
    kind: "seamcall" | "tdcall",
    input: Record<string, unknown>,
  ): { leaf?: LeafItem; regs: Registers } | { error: Record<string, unknown> } {
    const spec = this.platform.spec;
    const leaf = input.leaf !== undefined
      ? (kind === "seamcall" ? spec.seamcalls : spec.tdcalls).get(String(input.leaf))
      : undefined;
    if (input.leaf !== undefined && !leaf) {
      return { error: { class: "unknown-leaf", leaf: input.leaf } };
    }
    const regs = leaf ? leafRegisters(spec, leaf, {}, Number(input.version ?? 0)) : registers();
    if (!leaf) regs.RAX = parseHex(String(input.rax));
    for (const [reg, v] of Object.entries((input.regs ?? {}) as Record<string, string>)) {
      regs[reg as Gpr] = parseHex(v);
    }
    return { leaf, regs };
  }

  private scripted(tdr: bigint): ScriptedTd {
    let g = this.guests.get(tdr);
    if (!g) {
      const p = this.platform;
      g = new ScriptedTd(p.spec, p.cpu, () => p.module, tdr);
      this.guests.set(tdr, g);
    }
    return g;
  }

  /**
   * TDH.VP.ENTER of `tdvpr` on `lp`, with the host's registers for a pending TDVMCALL and
   * the entry flags of vcpu_handle_and_flags (RESUME_L1, ...).
   */
  private enter(
    lp: number,
    tdvpr: bigint,
    host: Record<string, string>,
    flags: Record<string, bigint> = {},
  ): Registers {
    const spec = this.platform.spec;
    const leaf = spec.seamcall("TDH.VP.ENTER");
    const handle = leaf.inputs.find((r) => r.name === "vcpu_handle_and_flags")!;
    const regs = leafRegisters(spec, leaf, {
      vcpu_handle_and_flags: encodeBits(handle.fields!, { ...flags, tdvpr_pa: tdvpr >> 12n }),
    });
    for (const [reg, v] of Object.entries(host)) regs[reg as Gpr] = parseHex(v);
    const outcome = this.platform.cpu.seamcall(lp, regs);
    if (outcome.kind !== "completed") throw new Error(`TDH.VP.ENTER ended with ${outcome.kind}`);
    return regs;
  }

  private view(status: bigint): Record<string, unknown> {
    const p = this.platform;
    return statusView(p.spec, status, (v) => p.describe(v));
  }

  /** A TD exit as the host saw it: the exit reason, the status and the exit information. */
  private tdExitView(entered: Registers): {
    td_exit: string;
    status: Record<string, unknown>;
    regs: Record<string, string>;
  } {
    const regs: Record<string, string> = {};
    for (const r of EXIT_INFO_REGS) regs[r] = toHex(entered[r]);
    return { td_exit: this.exitReason(entered.RAX), status: this.view(entered.RAX), regs };
  }

  /**
   * The VMX exit reason in bits 31:0 of a TD exit's status, by its spec name; "none" for a
   * status that carries none (spec detail `none`), whose bits 31:0 the module clears.
   */
  private exitReason(status: bigint): string {
    const spec = this.platform.spec;
    const code = status & 0xFFFF_FFFFn;
    const base = status & ~0xFFFF_FFFFn;
    const item = [...spec.statuses.values()].find((x) =>
      x.namespace === "tdx" && parseHex(x.value) === base
    );
    if (item?.detail === "none" && code === 0n) return "none";
    const v = spec.enum("VMX_EXIT_REASON").values.find((x) => BigInt(x.value) === code);
    return v?.name ?? toHex(code);
  }

  /**
   * The host enters the vCPU; the guest writes memory, executes the TDCALL, reads memory
   * and exits with TDG.VP.VMCALL. For TDG.VP.VMCALL itself the host sees the call's exit
   * and enters again (with `host_regs`) so that it completes. The TD's L2 VMs run the
   * step's `l2_guest` jobs; after a TD exit that ended the TDCALL, the host enters the
   * vCPU again once for each `resume` entry.
   */
  private tdcall(input: Record<string, unknown>): StepActual {
    const p = this.platform;
    const built = this.callRegisters("tdcall", input);
    if ("error" in built) return built;
    const { leaf, regs } = built;
    const l2 = l2GuestJobs(p.spec, input.l2_guest);
    if ("error" in l2) return l2;
    const resume = resumeInput(p.spec, input.resume);
    if ("error" in resume) return resume;
    const vcpu = p.module.state.vcpus.get(parseHex(String(input.vcpu)));
    if (vcpu) {
      const guest = this.scripted(vcpu.tdr);
      for (const [vm, jobs] of l2.jobs) guest.queueL2(vcpu.index, vm, jobs);
    }
    try {
      return this.tdcallRun(input, leaf, regs, resume.resume);
    } catch (e) {
      // An L2 VM exit the module does not handle is the vector's mistake, not a status.
      const m = /does not handle L2 VM exit (\w+)/.exec((e as Error).message);
      if (!m) throw e;
      return { error: { class: "invalid-input", field: "l2_guest", why: `exit ${m[1]}` } };
    } finally {
      // What the L2 VMs did not reach belongs to this step only.
      if (vcpu) this.scripted(vcpu.tdr).l2Jobs.clear();
    }
  }

  private tdcallRun(
    input: Record<string, unknown>,
    leaf: LeafItem | undefined,
    regs: Registers,
    resumes: Resume[],
  ): StepActual {
    const p = this.platform;
    const tdvpr = parseHex(String(input.vcpu));
    const lp = Number(input.lp ?? 0);
    const vcpu = p.module.state.vcpus.get(tdvpr);
    let job: GuestJob | undefined;
    const vmcallLeaf = p.spec.tdcall("TDG.VP.VMCALL");
    if (vcpu) {
      job = {
        regs,
        isVmcall: (regs.RAX & 0xFFFFn) === BigInt(vmcallLeaf.leaf),
        writes: ((input.memory_writes ?? []) as { gpa: string; bytes: string }[]).map((w) => ({
          gpa: parseHex(w.gpa),
          bytes: hexToBytes(w.bytes),
        })),
        reads: ((input.memory_reads ?? []) as { gpa: string; length: number }[]).map((r) => ({
          gpa: parseHex(r.gpa),
          length: Number(r.length),
        })),
        memory: [],
      };
      this.scripted(vcpu.tdr).jobs.set(vcpu.index, job);
    }
    let entered = this.enter(lp, tdvpr, {});
    if (!job?.outcome) {
      // The vCPU did not run the guest: the entry failed (or exited before the guest ran).
      if (vcpu) this.scripted(vcpu.tdr).jobs.delete(vcpu.index);
      return { enter: this.view(entered.RAX) };
    }
    const result: StepActual = {};
    if (job.outcome === "vmcall-exit") {
      // What the host saw of the guest's TDG.VP.VMCALL: TDH.VP.ENTER's output registers.
      const enterLeaf = p.spec.seamcall("TDH.VP.ENTER");
      const seen = { status: this.view(entered.RAX), regs: outputs(enterLeaf, entered) };
      // Another TDCALL that completed with a trap-like TD exit (a host-priority timeout):
      // the host's next entry lets it return, as for TDG.VP.VMCALL.
      if (job.isVmcall) result.vmcall_exit = seen;
      else result.trap_exit = seen;
      entered = this.enter(lp, tdvpr, (input.host_regs ?? {}) as Record<string, string>);
      // The guest generator moved the job on while the host re-entered.
      if ((job.outcome as GuestJob["outcome"]) !== "completed") {
        return { ...result, enter: this.view(entered.RAX) };
      }
      // What the guest holds when its TDG.VP.VMCALL returns (RAX is the status, below).
      const back: Record<string, string> = {};
      for (const r of GPR_NAMES) if (r !== "RAX" && r !== "RSP") back[r] = toHex(regs[r]);
      result.vmcall_return = back;
    }
    if (resumes.length) {
      // The host resumes the vCPU after each TD exit that ended the TDCALL, as it says.
      const guest = this.scripted(vcpu!.tdr);
      const exits: Record<string, unknown>[] = [];
      for (const [i, r] of resumes.entries()) {
        if (job.outcome !== "td-exit") {
          return {
            error: { class: "invalid-input", field: `resume.${i}`, why: "no TD exit to resume" },
          };
        }
        exits.push(this.tdExitView(entered));
        const l2Runs = guest.l2Runs;
        job.resume = true;
        entered = this.enter(lp, tdvpr, r.host_regs, r.flags);
        if (job.resume) {
          // The TDCALL's guest did not run: another TD exit (from an L2 VM, or before any
          // guest code ran), or TDH.VP.ENTER failed its entry checks.
          job.resume = false;
          const exited = guest.l2Runs !== l2Runs ||
            this.view(entered.RAX).name === "TDX_SUCCESS";
          if (!exited) return { host_exits: exits, enter: this.view(entered.RAX) };
        }
      }
      result.host_exits = exits;
    }
    switch (job.outcome) {
      case "write-fault":
        return { memory_fault: toHex(job.fault!) };
      case "td-exit": {
        const { td_exit, status, regs: info } = this.tdExitView(entered);
        return { ...result, td_exit, exit: { status, regs: info } };
      }
      case "ve": {
        const ve = p.module.state.vcpus.get(tdvpr)?.veInfo;
        result.ve = ve?.valid ? this.exitReason(ve.exitReason) : "unknown";
        break;
      }
      case "completed": {
        result.status = this.view(regs.RAX);
        // Success and informational statuses (bit 63 clear) return output registers.
        if ((regs.RAX >> 63n) === 0n && leaf) result.regs = outputs(leaf, regs);
        break;
      }
    }
    if (job.reads.length) result.memory = job.memory.map(bytesToHex);
    if (job.fault !== undefined) result.memory_fault = toHex(job.fault);
    return result;
  }
}

/** A leaf's output registers other than RAX, as the vector states them. */
function outputs(leaf: LeafItem, regs: Registers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of leaf.outputs) {
    if (r.reg !== "RAX" && r.reg in regs) out[r.reg] = toHex(regs[r.reg as Gpr]);
  }
  return out;
}
