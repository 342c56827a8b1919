// Kvm-layer vectors from declarative scenarios: a named set-up (a TD VM at some stage of
// the VMM's build sequence, stored as a shared fixture) and ioctl, KVM_TDX_* command and
// KVM_RUN steps written with the spec's names, turned into concrete kvm.ioctl / kvm.run
// inputs and run on the reference (runner/layers/kvm_layer.ts) for the expectations.
import { defaultCpuid, kvmBed, x2apicLeaf } from "../../impl/kvm/testing/kvm_fixture.ts";
import type { CpuidEntry } from "../../impl/kvm/mod.ts";
import { ioctlByNumber } from "../../impl/kvm/mod.ts";
import { leafRegisters } from "../../impl/cpu/leaf_call.ts";
import { parseHex, toHex } from "../../impl/spec/hex.ts";
import type { Spec } from "../../impl/spec/mod.ts";
import { exitView, KvmSession, type StructArg } from "../../runner/layers/kvm_layer.ts";
import type { Covered, Step, Vector } from "../../runner/vector_types.ts";
import type { GeneratorContext } from "./generator_context.ts";

type Scalar = string | number | boolean;
type Fields = Record<string, Scalar>;

export type KvmSetup =
  | "fresh"
  | "vm"
  | "vm-irqchip"
  | "td-initialized"
  | "td-vcpu"
  | "td-vcpu-init"
  | "td-memory"
  | "td-finalized";

export interface KvmCase {
  id: string;
  title: string;
  setup?: KvmSetup;
  tags?: string[];
  covers?: Covered[];
  steps: KvmStepSpec[];
}

/** A struct argument as a scenario writes it: values may be numbers or spec names. */
interface StructSpec {
  struct: string;
  fields?: Fields;
  size?: number;
  offset?: number;
  read_only?: boolean;
  read_back?: boolean;
  /**
   * CPUID entries (kvm_tdx_init_vm's cpuid, or a kvm_cpuid2 itself): `x2apic` is leaf 1 with
   * x2APIC (what KVM_TDX_INIT_VCPU needs); an object edits the default configuration for
   * KVM_TDX_INIT_VM (every leaf the module lets the host configure, GPAW 48; `{}` as is).
   */
  cpuid?: CpuidSpec | "x2apic";
}

interface CpuidSpec {
  /** Leaves (by function) of the default configuration to leave out. */
  drop?: Scalar[];
  /** Registers to change in default entries, by function (sub-leaf 0). */
  set?: ({ function: Scalar } & Record<string, Scalar>)[];
  add?: Record<string, Scalar>[];
}

interface CommonStep {
  fd?: string;
  memory?: { name: string; size: number; bytes?: string; fill?: number; read_only?: boolean }[];
  /** Result keys kept in the expectation ("out.nent", "data.supported_attrs"); ret, errno, fd and exit_reason always are. */
  pin?: string[];
  /** Prepares state for the steps under test: not claimed in covers. */
  prepare?: boolean;
  note?: string;
}

interface IoctlStep extends CommonStep {
  ioctl: string;
  arg?: Scalar | StructSpec;
}

interface TdxStep extends CommonStep {
  tdx: string;
  flags?: Scalar;
  hw_error?: Scalar;
  /** kvm_tdx_cmd.data as a value (an immediate, or a raw address). */
  data?: Scalar;
  data_struct?: StructSpec;
  /** The kvm_tdx_cmd itself placed read-only, or not placed at all (`arg`: a raw pointer). */
  read_only?: boolean;
  arg?: Scalar;
}

interface GuestCallSpec {
  tdvmcall?: string;
  tdcall?: string;
  version?: number;
  /** By the call's spec input names, or by register name (R10, RCX). */
  inputs?: Record<string, Scalar>;
}

interface RunStep extends CommonStep {
  run: string;
  guest_calls?: GuestCallSpec[];
  response?: { struct: string; fields: Fields };
  io_data?: string;
  immediate_exit?: boolean;
  valid_regs?: Scalar;
  wake?: boolean;
  arg?: Scalar;
}

interface CloseStep extends CommonStep {
  close: string;
}

type KvmStepSpec = IoctlStep | TdxStep | RunStep | CloseStep;

/** The VMM's TD build sequence, as the fixtures give it; each set-up extends the previous. */
const SETUP_ORDER: KvmSetup[] = [
  "fresh",
  "vm",
  "vm-irqchip",
  "td-initialized",
  "td-vcpu",
  "td-vcpu-init",
  "td-memory",
  "td-finalized",
];

/** Guest RAM of the td-memory set-up: GPA 0, 4 MiB, all private, backed by gmem0. */
export const TD_RAM = 0x40_0000;

function setupSteps(setup: KvmSetup): KvmStepSpec[] {
  const upTo = SETUP_ORDER.indexOf(setup);
  const all: [KvmSetup, KvmStepSpec[]][] = [
    ["vm", [{ fd: "kvm", ioctl: "KVM_CREATE_VM", arg: "KVM_X86_TDX_VM" }]],
    ["vm-irqchip", [
      {
        fd: "vm",
        ioctl: "KVM_ENABLE_CAP",
        arg: { struct: "kvm_enable_cap", fields: { cap: "KVM_CAP_SPLIT_IRQCHIP", "args.0": 24 } },
      },
      {
        fd: "vm",
        ioctl: "KVM_ENABLE_CAP",
        arg: {
          struct: "kvm_enable_cap",
          fields: {
            cap: "KVM_CAP_EXIT_HYPERCALL",
            "args.0": "BIT(KVM_HC_MAP_GPA_RANGE) in args[0]",
          },
        },
      },
    ]],
    ["td-initialized", [{
      fd: "vm",
      tdx: "KVM_TDX_INIT_VM",
      data_struct: { struct: "kvm_tdx_init_vm", cpuid: {} },
    }]],
    ["td-vcpu", [
      { fd: "vm", ioctl: "KVM_CREATE_VCPU", arg: 0 },
      {
        fd: "vcpu0",
        ioctl: "KVM_SET_CPUID2",
        arg: { struct: "kvm_cpuid2", cpuid: "x2apic" },
      },
    ]],
    ["td-vcpu-init", [{ fd: "vcpu0", tdx: "KVM_TDX_INIT_VCPU" }]],
    ["td-memory", [
      {
        fd: "vm",
        ioctl: "KVM_CREATE_GUEST_MEMFD",
        arg: { struct: "kvm_create_guest_memfd", fields: { size: TD_RAM } },
      },
      {
        fd: "vm",
        ioctl: "KVM_SET_USER_MEMORY_REGION2",
        memory: [{ name: "ram", size: TD_RAM }],
        arg: {
          struct: "kvm_userspace_memory_region2",
          fields: {
            slot: 0,
            flags: "KVM_MEM_GUEST_MEMFD",
            guest_phys_addr: 0,
            memory_size: TD_RAM,
            userspace_addr: "$mem:ram",
            guest_memfd_offset: 0,
            guest_memfd: "$fd:gmem0",
          },
        },
      },
      {
        fd: "vm",
        ioctl: "KVM_SET_MEMORY_ATTRIBUTES",
        arg: {
          struct: "kvm_memory_attributes",
          fields: { address: 0, size: TD_RAM, attributes: "KVM_MEMORY_ATTRIBUTE_PRIVATE" },
        },
      },
    ]],
    ["td-finalized", [{ fd: "vm", tdx: "KVM_TDX_FINALIZE_VM" }]],
  ];
  return all.filter(([s]) => SETUP_ORDER.indexOf(s) <= upTo).flatMap(([, steps]) => steps);
}

/** What the generator knows about the reference platform: the default CPUID configuration. */
interface Known {
  cpuid: CpuidEntry[];
  x2apic: CpuidEntry;
}

let known: Known | undefined;
function platformFacts(): Known {
  if (!known) {
    const vm = kvmBed().kvm.createVm().vm!;
    known = { cpuid: defaultCpuid(vm), x2apic: x2apicLeaf(vm) };
  }
  return known;
}

class Expander {
  constructor(readonly spec: Spec, readonly where: string) {}

  /** A named constant: an ioctl's tdx_values, a flag of a KVM_TDX_* command, or an enum value. */
  constant(name: string): bigint | undefined {
    for (const it of this.spec.ioctls.values()) {
      const v = it.tdx_values?.find((x) => x.name === name);
      if (v) return parseHex(v.value);
    }
    for (const c of this.spec.kvmTdxCommands.values()) {
      const f = c.flags.find((x) => x.name === name);
      if (f) return parseHex(f.value);
    }
    const status = this.spec.statuses.get(name);
    if (status) return parseHex(status.value);
    const found = new Set<bigint>();
    for (const e of this.spec.enums.values()) {
      const v = e.values.find((x) => x.name === name);
      if (v) found.add(parseHex(v.value));
    }
    if (found.size > 1) throw new Error(`${this.where}: "${name}" names different enum values`);
    return [...found][0];
  }

  /** A scenario value in the vector encoding ("0x..", "hex:..", "$mem:..", names resolved). */
  value(v: Scalar): string {
    if (typeof v === "number") return toHex(BigInt(v));
    if (typeof v === "boolean") return toHex(v ? 1n : 0n);
    if (/^0x[0-9A-Fa-f]+$/.test(v)) return toHex(parseHex(v));
    if (/^(hex|str):/.test(v) || v.startsWith("$")) return v;
    const fill = /^fill:(0x[0-9A-Fa-f]{1,2}):(\d+)$/.exec(v);
    if (fill) return `hex:${Number(fill[1]).toString(16).padStart(2, "0").repeat(Number(fill[2]))}`;
    let out = 0n;
    for (const part of v.split("|").map((s) => s.trim())) {
      const c = /^\d+$/.test(part) ? BigInt(part) : this.constant(part);
      if (c === undefined) throw new Error(`${this.where}: unknown value "${part}"`);
      out |= c;
    }
    return toHex(out);
  }

  fields(f: Fields | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(f ?? {})) out[k] = this.value(v);
    return out;
  }

  cpuidFields(prefix: string, entries: CpuidEntry[]): Record<string, string> {
    const out: Record<string, string> = {};
    entries.forEach((e, i) => {
      for (const k of ["function", "index", "flags", "eax", "ebx", "ecx", "edx"] as const) {
        out[`${prefix}entries.${i}.${k}`] = toHex(BigInt(e[k] >>> 0));
      }
    });
    return out;
  }

  structArg(s: StructSpec): StructArg & { read_back?: boolean } {
    const facts = platformFacts();
    let fields: Record<string, string> = {};
    if (s.cpuid) {
      const prefix = s.struct === "kvm_cpuid2" ? "" : "cpuid.";
      const entries = s.cpuid === "x2apic" ? [facts.x2apic] : this.cpuid(s.cpuid);
      fields = this.cpuidFields(prefix, entries);
    }
    fields = { ...fields, ...this.fields(s.fields) };
    const arg: StructArg & { read_back?: boolean } = { struct: s.struct, fields };
    if (s.size !== undefined) arg.size = s.size;
    if (s.offset !== undefined) arg.offset = s.offset;
    if (s.read_only) arg.read_only = true;
    if (s.read_back) arg.read_back = true;
    return arg;
  }

  cpuid(c: CpuidSpec): CpuidEntry[] {
    const num = (v: Scalar) => Number(parseHex(this.value(v)));
    const drop = new Set((c.drop ?? []).map(num));
    const entries = platformFacts().cpuid.filter((e) => !drop.has(e.function)).map((e) => ({
      ...e,
    }));
    for (const s of c.set ?? []) {
      const e = entries.find((x) => x.function === num(s.function) && x.index === 0);
      if (!e) throw new Error(`${this.where}: the default CPUID has no leaf ${s.function}`);
      for (const [k, v] of Object.entries(s)) {
        if (k !== "function") (e as Record<string, number>)[k] = num(v);
      }
    }
    for (const a of c.add ?? []) {
      const e: CpuidEntry = { function: 0, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 };
      for (const [k, v] of Object.entries(a)) (e as unknown as Record<string, number>)[k] = num(v);
      entries.push(e);
    }
    return entries;
  }

  /** A guest call's registers: the spec's input names (or register names) to registers. */
  guestCall(g: GuestCallSpec): Record<string, Record<string, string>> {
    const regs: Record<string, string> = {};
    if (g.tdvmcall) {
      // A spec TDVMCALL by name, or a sub-function number the spec does not name.
      const item = this.spec.tdvmcalls.get(g.tdvmcall);
      if (!item && !/^0x[0-9A-Fa-f]+$/.test(g.tdvmcall)) {
        throw new Error(`${this.where}: no TDVMCALL ${g.tdvmcall}`);
      }
      regs.R10 = "0x0";
      regs.R11 = toHex(parseHex(item?.subfunction ?? g.tdvmcall));
      for (const [k, v] of Object.entries(g.inputs ?? {})) {
        const reg = item?.inputs.find((i) => i.name === k)?.reg ??
          (/^R[A-Z0-9]+$/.test(k) ? k : undefined);
        if (!reg) throw new Error(`${this.where}: ${g.tdvmcall} has no input ${k}`);
        regs[reg] = this.value(v);
      }
      return { tdvmcall: regs };
    }
    const leaf = this.spec.tdcalls.get(g.tdcall!);
    if (!leaf) throw new Error(`${this.where}: no TDCALL ${g.tdcall}`);
    regs.RAX = toHex(leafRegisters(this.spec, leaf, {}, g.version ?? 0).RAX);
    for (const [k, v] of Object.entries(g.inputs ?? {})) {
      const reg = leaf.inputs.find((i) => i.name === k)?.reg ??
        (/^R[A-Z0-9]+$/.test(k) ? k : undefined);
      if (!reg) throw new Error(`${this.where}: ${g.tdcall} has no input ${k}`);
      regs[reg] = this.value(v);
    }
    return { tdcall: regs };
  }

  /** The op and input a scenario step stands for. */
  step(s: KvmStepSpec): { op: string; input: Record<string, unknown> } {
    const input: Record<string, unknown> = {};
    if ("close" in s) return { op: "kvm.close", input: { fd: s.close } };
    if (s.memory) {
      input.memory = s.memory.map((m) => ({ ...m }));
    }
    if ("run" in s) {
      input.fd = s.run;
      if (s.arg !== undefined) input.arg = this.value(s.arg);
      if (s.guest_calls) input.guest_calls = s.guest_calls.map((g) => this.guestCall(g));
      if (s.response) {
        input.response = { struct: s.response.struct, fields: this.fields(s.response.fields) };
      }
      if (s.io_data !== undefined) input.io_data = s.io_data;
      if (s.immediate_exit !== undefined) input.immediate_exit = s.immediate_exit;
      if (s.valid_regs !== undefined) input.valid_regs = this.value(s.valid_regs);
      if (s.wake) input.wake = true;
      return { op: "kvm.run", input: { fd: s.run, ...input } };
    }
    input.fd = s.fd;
    if ("tdx" in s) {
      input.ioctl = "KVM_MEMORY_ENCRYPT_OP";
      if (s.arg !== undefined) {
        input.arg = this.value(s.arg);
        return { op: "kvm.ioctl", input };
      }
      const cmd: StructArg = {
        struct: "kvm_tdx_cmd",
        fields: {
          id: this.value(s.tdx),
          flags: this.value(s.flags ?? 0),
          data: this.value(s.data ?? 0),
          hw_error: this.value(s.hw_error ?? 0),
        },
      };
      if (s.read_only) cmd.read_only = true;
      if (s.data_struct) {
        cmd.data_struct = this.structArg(s.data_struct);
        delete cmd.fields!.data;
      }
      input.arg = cmd;
      return { op: "kvm.ioctl", input };
    }
    input.ioctl = /^0x/.test(s.ioctl) ? toHex(parseHex(s.ioctl)) : s.ioctl;
    if (!/^0x/.test(s.ioctl) && !this.spec.ioctls.has(s.ioctl)) {
      throw new Error(`${this.where}: no ioctl ${s.ioctl} in the spec`);
    }
    if (s.arg !== undefined) {
      input.arg = typeof s.arg === "object" ? this.structArg(s.arg) : this.value(s.arg);
    }
    return { op: "kvm.ioctl", input };
  }
}

/** The spec items one step checks. */
function stepCovers(
  spec: Spec,
  s: KvmStepSpec,
  input: Record<string, unknown>,
  actual: Record<string, unknown>,
): Covered[] {
  const out: Covered[] = [];
  const struct = (name?: string) => name && out.push({ kind: "struct", name });
  if ("close" in s) return out;
  if ("run" in s) {
    out.push({ kind: "ioctl", name: "KVM_RUN" }, { kind: "struct", name: "kvm_run" });
    for (const g of s.guest_calls ?? []) {
      if (g.tdvmcall && spec.tdvmcalls.has(g.tdvmcall)) {
        out.push({ kind: "tdvmcall", name: g.tdvmcall });
      }
      if (g.tdcall) out.push({ kind: "tdcall", name: g.tdcall });
    }
    struct(s.response?.struct);
    const exit = actual.exit as Record<string, string> | undefined;
    if (exit) struct(exitView(spec, String(actual.exit_reason), BigInt(exit.nr ?? "0x0")));
    for (const g of (actual.guest ?? []) as { status?: unknown }[]) {
      if (typeof g.status === "string") out.push({ kind: "status", name: g.status });
    }
    return out;
  }
  if ("tdx" in s) {
    out.push({ kind: "ioctl", name: "KVM_MEMORY_ENCRYPT_OP" }, {
      kind: "struct",
      name: "kvm_tdx_cmd",
    });
    if (spec.kvmTdxCommands.has(s.tdx)) out.push({ kind: "kvm_tdx_command", name: s.tdx });
    struct(s.data_struct?.struct);
    if (s.data_struct?.cpuid) struct("kvm_cpuid2");
    return out;
  }
  const name = /^0x/.test(String(input.ioctl))
    ? ioctlByNumber(spec, parseHex(String(input.ioctl)))?.name
    : String(input.ioctl);
  if (name) out.push({ kind: "ioctl", name });
  if (typeof s.arg === "object") struct(s.arg.struct);
  return out;
}

/** The expectation: the whole result, or only the pinned keys (and the outcome keys). */
export function pinned(actual: Record<string, unknown>, pin?: string[]): Record<string, unknown> {
  if (!pin) return actual;
  const keep = (path: string) => pin.some((p) => path === p || path.startsWith(`${p}.`));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(actual)) {
    if (["ret", "errno", "fd", "exit_reason", "error"].includes(k) || keep(k)) {
      out[k] = v;
      continue;
    }
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const inner = Object.fromEntries(
        Object.entries(v as Record<string, unknown>).filter(([ik]) => keep(`${k}.${ik}`)),
      );
      if (Object.keys(inner).length) out[k] = inner;
    }
  }
  return out;
}

export function kvmSequence(ctx: GeneratorContext, params: Record<string, unknown>): Vector[] {
  return (withMerges(params.cases) as KvmCase[]).map((c) => kvmVector(ctx, c));
}

/**
 * YAML merge keys (`<<: *anchor`), which the YAML 1.2 parser leaves as a plain key:
 * the anchored mapping's entries, overridden by the mapping's own.
 */
export function withMerges(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withMerges);
  if (typeof v !== "object" || v === null) return v;
  const own = Object.entries(v as Record<string, unknown>).filter(([k]) => k !== "<<");
  const base = (v as Record<string, unknown>)["<<"];
  const bases = base === undefined ? [] : Array.isArray(base) ? base : [base];
  const out: Record<string, unknown> = {};
  for (const b of bases) Object.assign(out, withMerges(b) as Record<string, unknown>);
  for (const [k, x] of own) out[k] = withMerges(x);
  return out;
}

function kvmVector(ctx: GeneratorContext, c: KvmCase): Vector {
  const setup = c.setup ?? "fresh";
  const setupSpecs = setupSteps(setup);
  const specs = [...setupSpecs, ...c.steps];
  const session = new KvmSession();
  const steps: Step[] = [];
  const covers: Covered[] = [...(c.covers ?? [])];
  const seen = new Set(covers.map((v) => `${v.kind}:${v.name}`));
  specs.forEach((s, i) => {
    const where = `${c.id} ${i < setupSpecs.length ? "set-up" : "step"} ${
      i - (i < setupSpecs.length ? 0 : setupSpecs.length)
    }`;
    const { op, input } = new Expander(ctx.spec, where).step(s);
    const actual = session.step(op, input);
    const err = actual.error as { class?: string; detail?: string } | undefined;
    if (err?.class === "invalid-input" || err?.class === "unsupported-op") {
      throw new Error(`${where}: ${err.class}: ${err.detail ?? op}`);
    }
    if (i < setupSpecs.length && actual.errno) {
      throw new Error(`${where}: the set-up step ${op} failed with ${actual.errno}`);
    }
    const step: Step = { op, input, expect: pinned(actual, s.pin) };
    if (s.note) step.note = s.note;
    steps.push(step);
    if (i >= setupSpecs.length && !s.prepare) {
      for (const v of stepCovers(ctx.spec, s, input, actual)) {
        if (!seen.has(`${v.kind}:${v.name}`)) covers.push(v);
        seen.add(`${v.kind}:${v.name}`);
      }
    }
  });
  const fixture = setupSpecs.length
    ? ctx.fixture(
      `kvm-${setup}`,
      `Kvm layer set-up: ${setup}`,
      "kvm",
      steps.slice(0, setupSpecs.length),
    )
    : undefined;
  if (!covers.length) throw new Error(`${c.id}: the vector covers nothing`);
  return ctx.vector({
    id: c.id,
    title: c.title,
    layer: "kvm",
    covers,
    tags: c.tags ?? [],
    scenarioCase: c.id,
    fixture,
    steps: steps.slice(setupSpecs.length),
  });
}
