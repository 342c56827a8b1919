// The `tdcall` op's inputs about what happens around the guest's TDCALL: `l2_guest`, the
// jobs of the TD's L2 VMs (each a VM exit or a TDCALL), and `resume`, the host's entries
// after a TD exit that let the TDCALL go on. Parsed from the vector's JSON into model
// values; a malformed input is an `invalid-input` error naming its field.
import { type Gpr, GPR_NAMES } from "../../impl/cpu/registers.ts";
import type { L2ExitInfo } from "../../impl/module/l2_state.ts";
import { parseHex } from "../../impl/spec/hex.ts";
import type { Spec } from "../../impl/spec/mod.ts";
import type { L2Job } from "./module_guest.ts";

type InputError = { error: { class: "invalid-input"; field: string; why: string } };

const invalid = (field: string, why: string): InputError => ({
  error: { class: "invalid-input", field, why },
});

/**
 * The exit information an L2 job may give, by the name of the TDG.VP.ENTER output that
 * reports it to L1 (spec/tdcall/tdg.vp.enter.yaml), and where the model keeps it.
 */
const EXIT_INFO: Record<string, keyof L2ExitInfo> = {
  exit_qualification: "qualification",
  guest_linear_address: "gla",
  guest_physical_address: "gpa",
  exit_interruption: "interruption",
  idt_vectoring: "idtVectoring",
  instruction: "instruction",
  extended_exit_qualification: "extQualification",
};

/** VMs 1..3: TDG.VP.ENTER's VM field (0 is the L1 VMM, which runs the scripted guest). */
const MAX_L2_VM = 3;

const HEX = /^0x[0-9a-fA-F]{1,16}$/;

/** `l2_guest`: each VM's jobs in the order given. */
export function l2GuestJobs(
  spec: Spec,
  input: unknown,
): { jobs: Map<number, L2Job[]> } | InputError {
  const jobs = new Map<number, L2Job[]>();
  if (input === undefined) return { jobs };
  if (!Array.isArray(input)) return invalid("l2_guest", "not a list");
  const reasons = new Set(spec.enum("VMX_EXIT_REASON").values.map((v) => v.name));
  for (const [i, e] of input.entries()) {
    const at = `l2_guest.${i}`;
    if (typeof e !== "object" || e === null || Array.isArray(e)) {
      return invalid(at, "not an object");
    }
    const entry = e as Record<string, unknown>;
    const vm = entry.vm;
    if (typeof vm !== "number" || !Number.isInteger(vm) || vm < 1 || vm > MAX_L2_VM) {
      return invalid(`${at}.vm`, "not an L2 VM (1-3)");
    }
    let job: L2Job;
    if ("tdcall" in entry) {
      const regs = entry.tdcall;
      if (typeof regs !== "object" || regs === null || Array.isArray(regs)) {
        return invalid(`${at}.tdcall`, "not an object of registers");
      }
      const set: Partial<Record<Gpr, bigint>> = {};
      for (const [r, v] of Object.entries(regs)) {
        if (!(GPR_NAMES as readonly string[]).includes(r) || r === "RSP") {
          return invalid(`${at}.tdcall.${r}`, "not a general-purpose register");
        }
        if (typeof v !== "string" || !HEX.test(v)) return invalid(`${at}.tdcall.${r}`, "not hex");
        set[r as Gpr] = parseHex(v);
      }
      for (const k of Object.keys(entry)) {
        if (k !== "vm" && k !== "tdcall") return invalid(`${at}.${k}`, "not an input of a TDCALL");
      }
      job = { tdcall: set };
    } else {
      const reason = entry.exit_reason;
      if (typeof reason !== "string" || !reasons.has(reason)) {
        return invalid(`${at}.exit_reason`, "not a VMX_EXIT_REASON");
      }
      const exit: L2ExitInfo = { reason };
      for (const [k, v] of Object.entries(entry)) {
        if (k === "vm" || k === "exit_reason") continue;
        const key = EXIT_INFO[k];
        if (!key) return invalid(`${at}.${k}`, "not an exit information field");
        if (typeof v !== "string" || !HEX.test(v)) return invalid(`${at}.${k}`, "not hex");
        (exit as unknown as Record<string, bigint>)[key] = parseHex(v);
      }
      job = { exit };
    }
    const list = jobs.get(vm) ?? [];
    list.push(job);
    jobs.set(vm, list);
  }
  return { jobs };
}

/** One TDH.VP.ENTER the host makes after a TD exit: its entry flags and registers. */
export interface Resume {
  flags: Record<string, bigint>;
  host_regs: Record<string, string>;
}

/** `resume`: the host's entries, one per TD exit, in order. */
export function resumeInput(spec: Spec, input: unknown): { resume: Resume[] } | InputError {
  if (input === undefined) return { resume: [] };
  if (!Array.isArray(input)) return invalid("resume", "not a list");
  const handle = spec.seamcall("TDH.VP.ENTER").inputs.find((r) =>
    r.name === "vcpu_handle_and_flags"
  )!;
  // The flags are the fields of vcpu_handle_and_flags other than the TDVPR and reserved bits.
  const flags = handle.fields!.filter((f) => !f.reserved && f.name !== "tdvpr_pa");
  const out: Resume[] = [];
  for (const [i, e] of input.entries()) {
    const at = `resume.${i}`;
    if (typeof e !== "object" || e === null || Array.isArray(e)) {
      return invalid(at, "not an object");
    }
    const entry = e as Record<string, unknown>;
    for (const k of Object.keys(entry)) {
      if (k !== "flags" && k !== "host_regs") return invalid(`${at}.${k}`, "not a resume input");
    }
    const r: Resume = { flags: {}, host_regs: {} };
    const given = (entry.flags ?? {}) as Record<string, unknown>;
    if (typeof given !== "object" || given === null || Array.isArray(given)) {
      return invalid(`${at}.flags`, "not an object");
    }
    for (const [name, v] of Object.entries(given)) {
      const f = flags.find((x) => x.name === name);
      if (!f) return invalid(`${at}.flags.${name}`, "not a flag of vcpu_handle_and_flags");
      const max = (1 << (f.bits[1] - f.bits[0] + 1)) - 1;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
        return invalid(`${at}.flags.${name}`, `not an integer 0-${max}`);
      }
      r.flags[name] = BigInt(v);
    }
    const regs = (entry.host_regs ?? {}) as Record<string, unknown>;
    if (typeof regs !== "object" || regs === null || Array.isArray(regs)) {
      return invalid(`${at}.host_regs`, "not an object of registers");
    }
    for (const [reg, v] of Object.entries(regs)) {
      // RAX and RCX are TDH.VP.ENTER's leaf and vCPU handle, which the op builds.
      if (!(GPR_NAMES as readonly string[]).includes(reg) || reg === "RAX" || reg === "RCX") {
        return invalid(`${at}.host_regs.${reg}`, "not a register the host passes");
      }
      if (typeof v !== "string" || !HEX.test(v)) {
        return invalid(`${at}.host_regs.${reg}`, "not hex");
      }
      r.host_regs[reg] = v;
    }
    out.push(r);
  }
  return { resume: out };
}
