// The reference's kvm layer: a host with the TDX module ready and /dev/kvm open (fd
// "kvm"), driven through Linux's KVM ioctls as a VMM issues them. Files the steps create
// get names ("vm", "vcpu0", "gmem0") so that vectors never depend on fd numbers; user
// memory the steps map gets names too ("$mem:NAME"), and addresses KVM writes back are
// reported by those names. KVM_RUN needs guest software: the model's hook
// (KvmVm.attachGuestProgram) runs a mailbox guest that makes the TDVMCALLs and TDCALLs
// kvm.run steps queue for it, and reports what each call returned.
import type { GuestPort } from "../../impl/cpu/guest_execution.ts";
import { type Gpr, type Registers, registers } from "../../impl/cpu/registers.ts";
import {
  type DevKvm,
  GuestMemfd,
  ioctlByNumber,
  ioctlNumber,
  type IoctlResult,
  type KvmFile,
  KvmVcpu,
  KvmVm,
  type UserArg,
} from "../../impl/kvm/mod.ts";
import { tdvmcall } from "../../impl/kvm/testing/guest_calls.ts";
import { fieldOffset } from "../../impl/kvm/struct_layout.ts";
import type { Platform } from "../../impl/module/testing/fixture.ts";
import { bringUpHost } from "../../impl/platform/td_stack.ts";
import { StructCodec } from "../../impl/spec/codec.ts";
import { bytesToHex, hexToBytes, parseHex, toHex } from "../../impl/spec/hex.ts";
import type { Spec } from "../../impl/spec/mod.ts";
import type { StepActual } from "../vector_types.ts";
import { statusView } from "./module_layer.ts";
import { decodeFields, encodeFields } from "./struct_args.ts";

const PAGE = 4096;

/** A struct argument: flattened fields, placed in a fresh mapping of the VMM. */
export interface StructArg {
  struct: string;
  fields?: Record<string, string>;
  /** Bytes the mapping holds for the struct (default: its encoded size). */
  size?: number;
  /** Where in its mapping the struct starts (the mapping ends after offset + size). */
  offset?: number;
  /** mprotect(PROT_READ) the mapping: KVM cannot write the struct back. */
  read_only?: boolean;
  /** kvm_tdx_cmd only: the command's data structure, placed first; its address becomes `data`. */
  data_struct?: StructArg & { read_back?: boolean };
}

interface Mapping {
  addr: bigint;
  size: number;
}

/** kvm_run exit views by exit reason (kvm_run.yaml's exit union). */
const EXIT_VIEWS: Record<string, string> = {
  KVM_EXIT_IO: "kvm_run_io",
  KVM_EXIT_HYPERCALL: "kvm_run_hypercall",
  KVM_EXIT_MMIO: "kvm_run_mmio",
  KVM_EXIT_FAIL_ENTRY: "kvm_run_fail_entry",
  KVM_EXIT_INTERNAL_ERROR: "kvm_run_internal",
  KVM_EXIT_SYSTEM_EVENT: "kvm_run_system_event",
  KVM_EXIT_MEMORY_FAULT: "kvm_run_memory_fault",
  KVM_EXIT_TDX: "kvm_run_tdx_exit",
};
/** KVM_EXIT_TDX views by kvm_run.tdx.nr. */
const TDX_VIEWS: Record<string, string> = {
  TDVMCALL_GET_QUOTE: "kvm_run_tdx_get_quote",
  TDVMCALL_GET_TD_VM_CALL_INFO: "kvm_run_tdx_get_tdvmcall_info",
  TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT: "kvm_run_tdx_setup_event_notify",
};

/** The registers a guest's TDVMCALL hands back: its status in R10, outputs in R11-R15. */
const VMCALL_OUT: Gpr[] = ["R10", "R11", "R12", "R13", "R14", "R15"];
const TDCALL_OUT: Gpr[] = ["RCX", "RDX", "R8", "R9", "R10", "R11"];

type GuestCall = { kind: "tdvmcall" | "tdcall"; regs: Partial<Registers> };

export class KvmSession {
  readonly platform: Platform;
  readonly kvm: DevKvm;
  readonly spec: Spec;
  private readonly codec: StructCodec;
  private readonly files = new Map<string, KvmFile>();
  private readonly mappings = new Map<string, Mapping>();
  private readonly counts = { vm: 0, vcpu: 0, gmem: 0 };
  /** The mailbox guest: calls queued per vCPU index, and what completed this step. */
  private readonly calls = new Map<number, GuestCall[]>();
  private completed: { call: GuestCall; regs: Registers }[] = [];
  private readonly programmed = new Set<KvmVm>();

  constructor() {
    const { platform, kvm } = bringUpHost();
    this.platform = platform;
    this.kvm = kvm;
    this.spec = platform.spec;
    this.codec = new StructCodec(this.spec);
    this.files.set("kvm", kvm);
  }

  step(op: string, input: Record<string, unknown>): StepActual {
    try {
      switch (op) {
        case "kvm.ioctl":
          return this.ioctl(input);
        case "kvm.run":
          return this.run(input);
        case "kvm.close":
          return this.close(input);
      }
    } catch (e) {
      // A vector the layer cannot read (a bad name, a field a struct lacks): not a result.
      if (e instanceof InputError || e instanceof RangeError) {
        return { error: { class: "invalid-input", detail: e.message } };
      }
      throw e;
    }
    return { error: { class: "unsupported-op", op } };
  }

  // --- names -------------------------------------------------------------------------------

  private file(name: unknown): KvmFile {
    const f = this.files.get(String(name));
    if (!f) throw new InputError(`no file named ${name}`);
    return f;
  }

  /** "$mem:NAME[+0xOFF]", "$fd:NAME" or "0x..." as the integer it stands for. */
  resolve = (text: string): bigint => {
    const mem = /^\$mem:([\w-]+)(?:\+(0x[0-9A-Fa-f]+))?$/.exec(text);
    if (mem) {
      const m = this.mappings.get(mem[1]);
      if (!m) throw new InputError(`no mapping named ${mem[1]}`);
      return m.addr + (mem[2] ? parseHex(mem[2]) : 0n);
    }
    const fd = /^\$fd:([\w-]+)$/.exec(text);
    if (fd) return BigInt(this.file(fd[1]).fd);
    if (/^0x[0-9A-Fa-f]+$/.test(text)) return parseHex(text);
    throw new InputError(`cannot read the value "${text}"`);
  };

  /** An address inside a named mapping, by name (vectors do not depend on the layout). */
  private symbolize(values: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(values)) {
      out[k] = v;
      if (!v.startsWith("0x")) continue;
      const n = BigInt(v);
      for (const [name, m] of this.mappings) {
        const end = m.addr + BigInt(Math.ceil(m.size / PAGE) * PAGE);
        if (n >= m.addr && n <= end) {
          out[k] = n === m.addr ? `$mem:${name}` : `$mem:${name}+${toHex(n - m.addr)}`;
          break;
        }
      }
    }
    return out;
  }

  private map(name: string, size: number): Mapping {
    const old = this.mappings.get(name);
    if (old) this.kvm.host.user.munmap(old.addr, old.size);
    const addr = this.kvm.host.user.mmap(Math.max(size, 1));
    if (addr === undefined) throw new Error("the reference host ran out of memory for mappings");
    const m = { addr, size: Math.max(size, 1) };
    this.mappings.set(name, m);
    return m;
  }

  private mapAll(list: unknown): void {
    for (const r of (list ?? []) as Record<string, unknown>[]) {
      const size = Number(r.size ?? 0);
      const m = this.map(String(r.name), size);
      const user = this.kvm.host.user;
      if (r.fill !== undefined) user.write(m.addr, new Uint8Array(size).fill(Number(r.fill)));
      if (r.bytes !== undefined) user.write(m.addr, hexToBytes(String(r.bytes)));
      if (r.read_only) user.protect(m.addr, size);
    }
  }

  /** Encodes a struct argument into a fresh mapping; returns its address. */
  private place(name: string, a: StructArg): { at: bigint; length: number } {
    let fields = a.fields ?? {};
    if (a.data_struct) {
      const d = this.place("data", a.data_struct);
      fields = { ...fields, data: toHex(d.at) };
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeFields(this.spec, this.codec, a.struct, fields, this.resolve);
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(`${a.struct}: ${(e as Error).message}`);
    }
    const offset = a.offset ?? 0;
    const length = Math.max(a.size ?? bytes.length, bytes.length);
    const m = this.map(name, offset + length);
    const at = m.addr + BigInt(offset);
    this.kvm.host.user.write(at, bytes);
    if (a.read_only) this.kvm.host.user.protect(m.addr, m.size);
    return { at, length };
  }

  private readBack(at: bigint, length: number, struct: string): Record<string, string> {
    const raw = this.kvm.host.user.read(at, length);
    if (!(raw instanceof Uint8Array)) return {};
    return this.symbolize(decodeFields(this.spec, this.codec, struct, raw));
  }

  // --- kvm.ioctl ---------------------------------------------------------------------------

  private ioctl(input: Record<string, unknown>): StepActual {
    const file = this.file(input.fd);
    this.mapAll(input.memory);
    const which = String(input.ioctl);
    const number = /^0x[0-9A-Fa-f]+$/.test(which)
      ? parseHex(which)
      : this.spec.ioctls.has(which)
      ? ioctlNumber(this.spec, which)
      : undefined;
    if (number === undefined) throw new InputError(`unknown ioctl ${which}`);
    const item = ioctlByNumber(this.spec, number);
    let arg: UserArg = 0n;
    let placed: { at: bigint; length: number; struct: string } | undefined;
    let data: { at: bigint; length: number; struct: string } | undefined;
    if (typeof input.arg === "string") arg = this.resolve(input.arg);
    else if (typeof input.arg === "object" && input.arg !== null) {
      const a = input.arg as StructArg;
      const p = this.place("arg", a);
      placed = { ...p, struct: a.struct };
      if (a.data_struct?.read_back) {
        const m = this.mappings.get("data")!;
        data = {
          at: m.addr + BigInt(a.data_struct.offset ?? 0),
          length: Math.max(a.data_struct.size ?? 0, m.size - (a.data_struct.offset ?? 0)),
          struct: a.data_struct.struct,
        };
      }
      arg = p.at;
    }
    const r = file.ioctl(number, arg);
    const result = this.outcome(r);
    const writesBack = item?.dir === "readwrite" || item?.dir === "read";
    if (placed && writesBack) result.out = this.readBack(placed.at, placed.length, placed.struct);
    if (data) result.data = this.readBack(data.at, data.length, data.struct);
    return result;
  }

  /** ret on success (a new file by its name), else the errno's name. */
  private outcome(r: IoctlResult<KvmFile>): StepActual {
    if (r.errno) return { errno: r.errnoName ?? `errno ${r.errno}` };
    if (r.file) return { fd: this.bind(r.file) };
    return { ret: toHex(r.ret) };
  }

  private bind(f: KvmFile): string {
    const name = f instanceof KvmVm
      ? (this.counts.vm++ === 0 ? "vm" : `vm${this.counts.vm - 1}`)
      : f instanceof KvmVcpu
      ? `vcpu${this.counts.vcpu++}`
      : f instanceof GuestMemfd
      ? `gmem${this.counts.gmem++}`
      : `file${f.fd}`;
    this.files.set(name, f);
    return name;
  }

  private close(input: Record<string, unknown>): StepActual {
    const f = this.file(input.fd);
    if (f instanceof GuestMemfd || f instanceof KvmVm) f.close();
    else {
      f.closed = true;
      this.kvm.host.closeFd(f.fd);
    }
    this.files.delete(String(input.fd));
    return { ret: "0x0" };
  }

  // --- kvm.run -----------------------------------------------------------------------------

  private run(input: Record<string, unknown>): StepActual {
    const vcpu = this.file(input.fd);
    if (!(vcpu instanceof KvmVcpu)) throw new InputError(`${input.fd} is not a vCPU`);
    this.program(vcpu.vm);
    const page = vcpu.runPage;
    for (const c of (input.guest_calls ?? []) as Record<string, Record<string, string>>[]) {
      const kind = c.tdvmcall ? "tdvmcall" : "tdcall";
      const regs: Partial<Registers> = {};
      for (const [k, v] of Object.entries(c[kind] ?? {})) regs[k as Gpr] = parseHex(v);
      const q = this.calls.get(vcpu.index) ?? [];
      q.push({ kind, regs });
      this.calls.set(vcpu.index, q);
    }
    if (input.response) {
      // The VMM's answer to the last exit: the given fields of the exit view, the rest kept.
      const res = input.response as { struct: string; fields: Record<string, string> };
      const current = decodeFields(this.spec, this.codec, res.struct, exitBytes(vcpu));
      const bytes = encodeFields(
        this.spec,
        this.codec,
        res.struct,
        { ...current, ...res.fields },
        this.resolve,
      );
      page.setExit(res.struct, this.codec.decode(res.struct, bytes).value);
    }
    if (input.io_data !== undefined) {
      const io = page.exit("kvm_run_io");
      vcpu.run.set(hexToBytes(String(input.io_data)), Number(io.data_offset));
    }
    if (input.immediate_exit !== undefined) page.immediateExit = Boolean(input.immediate_exit);
    if (input.valid_regs !== undefined) {
      new DataView(vcpu.run.buffer, vcpu.run.byteOffset).setBigUint64(
        fieldOffset(this.spec, "kvm_run", "kvm_valid_regs"),
        parseHex(String(input.valid_regs)),
        true,
      );
    }
    if (input.wake) vcpu.wake();
    this.completed = [];
    const r = vcpu.call("KVM_RUN", input.arg === undefined ? 0n : this.resolve(String(input.arg)));
    const result = this.outcome(r);
    const reason = page.exitReasonName ?? toHex(page.exitReason);
    result.exit_reason = reason;
    const view = exitView(this.spec, reason, page.exitField("kvm_run_tdx_exit", "nr"));
    // Exit views carry guest addresses, never the VMM's: no names for them.
    if (view) result.exit = decodeFields(this.spec, this.codec, view, exitBytes(vcpu));
    if (reason === "KVM_EXIT_IO") {
      const io = page.exit("kvm_run_io");
      const at = Number(io.data_offset);
      result.io_data = bytesToHex(vcpu.run.slice(at, at + Number(io.size) * Number(io.count)));
    }
    // The guest calls that completed during this KVM_RUN, in order.
    if (this.completed.length) result.guest = this.completed.map((c) => this.guestView(c));
    return result;
  }

  private guestView(done: { call: GuestCall; regs: Registers }): Record<string, unknown> {
    const { call, regs } = done;
    const out: Record<string, unknown> = {};
    if (call.kind === "tdvmcall") {
      const st = [...this.spec.statuses.values()].find((s) =>
        s.namespace === "tdvmcall" && BigInt(s.value) === regs.R10
      );
      if (st) out.status = st.name;
      for (const r of VMCALL_OUT) out[r] = toHex(regs[r]);
    } else {
      out.status = statusView(this.spec, regs.RAX, (v) => this.platform.describe(v));
      for (const r of TDCALL_OUT) out[r] = toHex(regs[r]);
    }
    return out;
  }

  /**
   * The mailbox guest: it makes the calls queued for its vCPU, one after another, and
   * ends when none is left: the model then shuts the vCPU down (KVM_EXIT_SHUTDOWN), for
   * good. A vector queues every call its guest makes before that.
   */
  private program(vm: KvmVm): void {
    if (this.programmed.has(vm)) return;
    this.programmed.add(vm);
    vm.attachGuestProgram((port) => this.mailbox(port));
  }

  private *mailbox(port: GuestPort): Generator<void, void, void> {
    for (;;) {
      const call = this.calls.get(port.vcpuIndex)?.shift();
      if (!call) return;
      if (call.kind === "tdvmcall") {
        const regs = yield* tdvmcall(this.spec, port, call.regs);
        this.completed.push({ call, regs });
        continue;
      }
      // A TDCALL that ends in a TD exit (an EPT violation the host resolves) is retried.
      for (;;) {
        const regs = Object.assign(registers(), call.regs);
        port.tdcall(regs);
        if (!port.exitRequested) {
          this.completed.push({ call, regs });
          break;
        }
        yield;
      }
    }
  }
}

class InputError extends Error {}

/** The kvm_run exit view (a spec struct) an exit reason selects; KVM_EXIT_TDX's by its nr. */
export function exitView(spec: Spec, reason: string, nr: bigint): string | undefined {
  const view = EXIT_VIEWS[reason];
  if (view !== "kvm_run_tdx_exit") return view;
  const name = spec.enum("kvm_tdx_exit_nr").values.find((v) => BigInt(v.value) === nr)?.name;
  return (name && TDX_VIEWS[name]) ?? view;
}

function exitBytes(vcpu: KvmVcpu): Uint8Array {
  const at = fieldOffset(vcpu.spec, "kvm_run", "exit");
  const size = vcpu.spec.struct("kvm_run").fields.find((f) => f.name === "exit")!.size!;
  return vcpu.run.slice(at, at + size);
}
