// KVM_RUN for a TD: TDH.VP.ENTER, the TDVMCALLs KVM answers itself, the ones it hands to
// userspace (KVM_EXIT_TDX, KVM_EXIT_HYPERCALL, ...) and the VMM's answer reaching the
// guest's registers on the next KVM_RUN.
import { strict as assert } from "node:assert";
import type { GuestPort, GuestProgram } from "../cpu/guest_execution.ts";
import type { Registers } from "../cpu/registers.ts";
import { parseHex } from "../spec/hex.ts";
import { buildTd, kvmBed, x2apicLeaf } from "./testing/kvm_fixture.ts";
import { scriptedGuest, tdvmcall } from "./testing/guest_calls.ts";
import { tdxCommand } from "./tdx_commands.ts";
import { tdxValue } from "./ioctl_number.ts";
import { errnoValue } from "./errno.ts";
import type { KvmVcpu } from "./vcpu.ts";
import type { Spec } from "../spec/mod.ts";
import { tdcallByName } from "../cpu/leaf_call.ts";
import { runErrnoTable } from "./testing/errno_table.ts";

const SHARED = 1n << 47n;

/** A finalised TD whose vCPU 0 runs `program`. */
function running(program: GuestProgram, opts: { hypercallExit?: boolean } = {}) {
  const bed = kvmBed();
  const { vm, vcpus: [vcpu] } = buildTd(bed, { memory: { gpa: 0n, size: 4n << 20n } });
  if (opts.hypercallExit === false) vm.enableCap("KVM_CAP_EXIT_HYPERCALL", [0n]);
  vm.attachGuestProgram(program);
  assert.equal(tdxCommand(vm, "KVM_TDX_FINALIZE_VM", 0n).errno, 0);
  return { bed, vm, vcpu, spec: vm.spec };
}

function sub(spec: Spec, name: string): bigint {
  return parseHex(spec.tdvmcall(name).subfunction);
}

function status(spec: Spec, name: string): bigint {
  return spec.statusValue(`TDG.VP.VMCALL_${name}`);
}

function vmcallGuest(spec: Spec, calls: Partial<Registers>[], seen: Registers[]): GuestProgram {
  return scriptedGuest(spec, calls, seen);
}

function expectExit(vcpu: KvmVcpu, exit: string) {
  const r = vcpu.runOnce();
  assert.equal(r.errno, 0, `KVM_RUN failed: ${r.errnoName}`);
  assert.equal(r.exit, exit);
  return r;
}

Deno.test("GetQuote exits to userspace as KVM_EXIT_TDX and the VMM's status reaches the guest", () => {
  const seen: Registers[] = [];
  const spec = kvmBed({}, false).platform.spec;
  const quote = SHARED | 0x20_0000n;
  const { vcpu, bed } = running(vmcallGuest(spec, [
    { R10: 0n, R11: sub(spec, "GetQuote"), R12: quote, R13: 0x2000n },
    { R10: 0n, R11: sub(spec, "GetQuote"), R12: quote, R13: 0x2000n },
  ], seen));
  bed.mark();
  expectExit(vcpu, "KVM_EXIT_TDX");
  assert.deepEqual(bed.calls(), ["TDH.VP.ENTER"]);
  const q = vcpu.runPage.exit("kvm_run_tdx_get_quote");
  assert.equal(q.nr, spec.enumValue("kvm_tdx_exit_nr", "TDVMCALL_GET_QUOTE"));
  // KVM presets "unsupported", strips the shared bit and passes the size through.
  assert.deepEqual([q.flags, q.ret, q.gpa, q.size], [
    0n,
    status(spec, "SUBFUNC_UNSUPPORTED"),
    0x20_0000n,
    0x2000n,
  ]);
  // The VMM accepts the request: R10 = SUCCESS in the guest after the next entry.
  vcpu.runPage.setExitField("kvm_run_tdx_exit", "ret", status(spec, "SUCCESS"));
  expectExit(vcpu, "KVM_EXIT_TDX");
  assert.equal(seen[0].R10, status(spec, "SUCCESS"));
  assert.equal(seen[0].RAX, 0n);
  // A VMM that leaves the preset answer: the guest learns GetQuote is unsupported.
  expectExit(vcpu, "KVM_EXIT_SHUTDOWN");
  assert.equal(seen[1].R10, status(spec, "SUBFUNC_UNSUPPORTED"));
});

Deno.test("GetQuote with a private buffer is refused by KVM without an exit", () => {
  const seen: Registers[] = [];
  const spec = kvmBed({}, false).platform.spec;
  const { vcpu } = running(
    vmcallGuest(spec, [{ R10: 0n, R11: sub(spec, "GetQuote"), R12: 0x1000n, R13: 0x1000n }], seen),
  );
  expectExit(vcpu, "KVM_EXIT_SHUTDOWN");
  assert.equal(seen[0].R10, status(spec, "INVALID_OPERAND"));
});

Deno.test("SetupEventNotifyInterrupt: the vector is checked, then handed to userspace", () => {
  const seen: Registers[] = [];
  const spec = kvmBed({}, false).platform.spec;
  const s = sub(spec, "SetupEventNotifyInterrupt");
  const { vcpu } = running(
    vmcallGuest(spec, [{ R10: 0n, R11: s, R12: 31n }, { R10: 0n, R11: s, R12: 0x40n }], seen),
  );
  expectExit(vcpu, "KVM_EXIT_TDX");
  assert.equal(seen[0].R10, status(spec, "INVALID_OPERAND"));
  const e = vcpu.runPage.exit("kvm_run_tdx_setup_event_notify");
  assert.deepEqual([e.nr, e.vector, e.ret], [s, 0x40n, status(spec, "SUBFUNC_UNSUPPORTED")]);
  vcpu.runPage.setExitField("kvm_run_tdx_exit", "ret", 0n);
  expectExit(vcpu, "KVM_EXIT_SHUTDOWN");
  assert.equal(seen[1].R10, 0n);
});

Deno.test("GetTdVmCallInfo: leaf 0 in the kernel, leaf 1 from userspace, others refused", () => {
  const seen: Registers[] = [];
  const spec = kvmBed({}, false).platform.spec;
  const s = sub(spec, "GetTdVmCallInfo");
  const { vcpu } = running(vmcallGuest(spec, [
    { R10: 0n, R11: s, R12: 0n, R13: 7n, R14: 7n },
    { R10: 0n, R11: s, R12: 1n },
    { R10: 0n, R11: s, R12: 2n },
  ], seen));
  expectExit(vcpu, "KVM_EXIT_TDX");
  assert.deepEqual([seen[0].R10, seen[0].R11, seen[0].R12, seen[0].R13, seen[0].R14], [
    0n,
    0n,
    0n,
    0n,
    0n,
  ]);
  const e = vcpu.runPage.exit("kvm_run_tdx_get_tdvmcall_info");
  assert.deepEqual([e.nr, e.leaf, e.ret, e.r11], [s, 1n, 0n, 0n]);
  vcpu.runPage.setExitField("kvm_run_tdx_get_tdvmcall_info", "r11", 2n);
  vcpu.runPage.setExitField("kvm_run_tdx_get_tdvmcall_info", "r14", 9n);
  expectExit(vcpu, "KVM_EXIT_SHUTDOWN");
  assert.deepEqual([seen[1].R10, seen[1].R11, seen[1].R14], [0n, 2n, 9n]);
  assert.equal(seen[2].R10, status(spec, "INVALID_OPERAND"));
});

Deno.test("MapGPA becomes KVM_EXIT_HYPERCALL in 2 MiB chunks; EAGAIN from the VMM is RETRY", () => {
  const seen: Registers[] = [];
  const spec = kvmBed({}, false).platform.spec;
  const s = sub(spec, "MapGPA");
  const { vcpu } = running(vmcallGuest(spec, [
    { R10: 0n, R11: s, R12: SHARED | 0x10_0000n, R13: 0x30_0000n },
    { R10: 0n, R11: s, R12: 0x10_0000n, R13: 0x30_0000n },
    { R10: 0n, R11: s, R12: 0x10_0800n, R13: 0x1000n },
  ], seen));
  const run = (n: string) => tdxValue(spec, "KVM_RUN", n);
  expectExit(vcpu, "KVM_EXIT_HYPERCALL");
  let h = vcpu.runPage.exit("kvm_run_hypercall");
  assert.equal(h.nr, run("KVM_HC_MAP_GPA_RANGE"));
  assert.deepEqual((h.args as bigint[]).slice(0, 3), [
    0x10_0000n,
    512n,
    run("KVM_MAP_GPA_RANGE_DECRYPTED"),
  ]);
  assert.deepEqual([h.ret, h.flags], [0n, run("KVM_EXIT_HYPERCALL_LONG_MODE")]);
  expectExit(vcpu, "KVM_EXIT_HYPERCALL");
  h = vcpu.runPage.exit("kvm_run_hypercall");
  assert.deepEqual((h.args as bigint[]).slice(0, 2), [0x30_0000n, 256n]);
  // Whole range done: the guest gets SUCCESS and runs on to its next MapGPA (to private).
  expectExit(vcpu, "KVM_EXIT_HYPERCALL");
  assert.equal(seen[0].R10, 0n);
  h = vcpu.runPage.exit("kvm_run_hypercall");
  assert.equal((h.args as bigint[])[2], run("KVM_MAP_GPA_RANGE_ENCRYPTED"));
  vcpu.runPage.setExitField("kvm_run_hypercall", "ret", BigInt(errnoValue(spec, "EAGAIN")));
  expectExit(vcpu, "KVM_EXIT_SHUTDOWN");
  assert.deepEqual([seen[1].R10, seen[1].R11], [status(spec, "RETRY"), 0x10_0000n]);
  // An unaligned range never leaves the kernel.
  assert.deepEqual([seen[2].R10, seen[2].R11], [status(spec, "ALIGN_ERROR"), 0x10_0800n]);
});

Deno.test("MapGPA: refused by the VMM, and unsupported without KVM_CAP_EXIT_HYPERCALL", () => {
  const spec = kvmBed({}, false).platform.spec;
  const s = sub(spec, "MapGPA");
  let seen: Registers[] = [];
  let t = running(vmcallGuest(spec, [{ R10: 0n, R11: s, R12: SHARED, R13: 0x1000n }], seen));
  expectExit(t.vcpu, "KVM_EXIT_HYPERCALL");
  t.vcpu.runPage.setExitField("kvm_run_hypercall", "ret", BigInt(errnoValue(spec, "EINVAL")));
  expectExit(t.vcpu, "KVM_EXIT_SHUTDOWN");
  assert.equal(seen[0].R10, status(spec, "INVALID_OPERAND"));
  seen = [];
  t = running(vmcallGuest(spec, [{ R10: 0n, R11: s, R12: SHARED, R13: 0x1000n }], seen), {
    hypercallExit: false,
  });
  expectExit(t.vcpu, "KVM_EXIT_SHUTDOWN");
  assert.deepEqual([seen[0].R10, seen[0].R11], [status(spec, "SUBFUNC_UNSUPPORTED"), SHARED]);
  // Any other answer is a VMM bug: KVM_RUN fails.
  seen = [];
  t = running(vmcallGuest(spec, [{ R10: 0n, R11: s, R12: SHARED, R13: 0x1000n }], seen));
  expectExit(t.vcpu, "KVM_EXIT_HYPERCALL");
  t.vcpu.runPage.setExitField("kvm_run_hypercall", "ret", 1n);
  assert.equal(t.vcpu.runOnce().errnoName, "EINVAL");
});

Deno.test("ReportFatalError becomes KVM_EXIT_SYSTEM_EVENT with the guest's registers", () => {
  const spec = kvmBed({}, false).platform.spec;
  const { vcpu } = running(vmcallGuest(spec, [
    { R10: 0n, R11: sub(spec, "ReportFatalError"), R12: 0x1234n, R14: 0x4142n },
  ], []));
  expectExit(vcpu, "KVM_EXIT_SYSTEM_EVENT");
  const e = vcpu.runPage.exit("kvm_run_system_event");
  assert.deepEqual([e.type, e.ndata], [
    Number(tdxValue(spec, "KVM_RUN", "KVM_SYSTEM_EVENT_TDX_FATAL")),
    16,
  ]);
  const data = e.data as bigint[];
  // RAX is the TDH.VP.ENTER result (a TDCALL exit); R11, R12, R14 in VCPU_REGS order.
  assert.equal(data[0] & 0xFFFF_FFFFn, spec.enumValue("VMX_EXIT_REASON", "TDCALL"));
  assert.deepEqual([data[11], data[12], data[14]], [
    sub(spec, "ReportFatalError"),
    0x1234n,
    0x4142n,
  ]);
});

Deno.test("unknown and vendor-specific TDVMCALLs are answered in the kernel", () => {
  const seen: Registers[] = [];
  const spec = kvmBed({}, false).platform.spec;
  const { vcpu } = running(vmcallGuest(spec, [
    { R10: 0n, R11: sub(spec, "Service") },
    { R10: 1n, R11: 0n },
  ], seen));
  expectExit(vcpu, "KVM_EXIT_SHUTDOWN");
  assert.equal(seen[0].R10, status(spec, "SUBFUNC_UNSUPPORTED"));
  assert.equal(seen[1].R10, BigInt.asUintN(64, -tdxValue(spec, "KVM_RUN", "KVM_ENOSYS")));
});

Deno.test("Instruction.CPUID and MSR accesses are emulated from KVM's vCPU model", () => {
  const seen: Registers[] = [];
  const spec = kvmBed({}, false).platform.spec;
  const msr = (n: string) =>
    parseHex(spec.enum("kvm_tdx_emulated_msr").values.find((v) => v.name === n)!.value);
  const { vcpu, vm } = running(vmcallGuest(spec, [
    { R10: 0n, R11: sub(spec, "Instruction.CPUID"), R12: 1n, R13: 0n },
    { R10: 0n, R11: sub(spec, "Instruction.WRMSR"), R12: msr("IA32_TSC_DEADLINE"), R13: 0x77n },
    { R10: 0n, R11: sub(spec, "Instruction.RDMSR"), R12: msr("IA32_TSC_DEADLINE") },
    { R10: 0n, R11: sub(spec, "Instruction.RDMSR"), R12: 0x1234n },
    { R10: 0n, R11: sub(spec, "Instruction.WRMSR"), R12: msr("EFER"), R13: 0n },
  ], seen));
  expectExit(vcpu, "KVM_EXIT_SHUTDOWN");
  assert.equal(seen[0].R14, BigInt(x2apicLeaf(vm).ecx));
  assert.equal(seen[1].R10, 0n);
  assert.deepEqual([seen[2].R10, seen[2].R11], [0n, 0x77n]);
  assert.equal(seen[3].R10, status(spec, "INVALID_OPERAND"));
  assert.equal(seen[4].R10, status(spec, "INVALID_OPERAND"));
});

Deno.test("port and MMIO accesses go to userspace and a read's data comes back in R11", () => {
  const seen: Registers[] = [];
  const spec = kvmBed({}, false).platform.spec;
  const io = sub(spec, "Instruction.IO");
  const mmio = sub(spec, "Instruction.MMIO");
  const { vcpu } = running(vmcallGuest(spec, [
    { R10: 0n, R11: io, R12: 1n, R13: 1n, R14: 0x3F8n, R15: 0x41n },
    { R10: 0n, R11: io, R12: 2n, R13: 0n, R14: 0x60n },
    { R10: 0n, R11: io, R12: 3n, R13: 0n, R14: 0x60n },
    { R10: 0n, R11: mmio, R12: 4n, R13: 0n, R14: SHARED | 0xFEC0_0000n },
    { R10: 0n, R11: mmio, R12: 4n, R13: 0n, R14: 0xFEC0_0000n },
  ], seen));
  expectExit(vcpu, "KVM_EXIT_IO");
  let e = vcpu.runPage.exit("kvm_run_io");
  assert.deepEqual([e.direction, e.size, e.port, e.count], [1, 1, 0x3F8, 1]);
  assert.equal(vcpu.run[Number(e.data_offset)], 0x41);
  expectExit(vcpu, "KVM_EXIT_IO");
  e = vcpu.runPage.exit("kvm_run_io");
  assert.deepEqual([e.direction, e.size, e.port], [0, 2, 0x60]);
  vcpu.run.set([0x34, 0x12], Number(e.data_offset));
  expectExit(vcpu, "KVM_EXIT_MMIO");
  assert.equal(seen[1].R11, 0x1234n);
  assert.equal(seen[2].R10, status(spec, "INVALID_OPERAND"));
  const m = vcpu.runPage.exit("kvm_run_mmio");
  assert.deepEqual([m.phys_addr, m.len, m.is_write], [0xFEC0_0000n, 4, 0]);
  vcpu.runPage.setExit("kvm_run_mmio", {
    ...m,
    data: new Uint8Array([0xEF, 0xBE, 0xAD, 0xDE, 0, 0, 0, 0]),
  });
  expectExit(vcpu, "KVM_EXIT_SHUTDOWN");
  assert.equal(seen[3].R11, 0xDEADBEEFn);
  assert.equal(seen[4].R10, status(spec, "INVALID_OPERAND"));
});

Deno.test("HLT parks the vCPU until something wakes it; KVM_RUN returns EINTR meanwhile", () => {
  const seen: Registers[] = [];
  const spec = kvmBed({}, false).platform.spec;
  const { vcpu } = running(vmcallGuest(spec, [
    { R10: 0n, R11: sub(spec, "Instruction.HLT"), R12: 0n },
  ], seen));
  const r = vcpu.runOnce();
  assert.deepEqual([r.errnoName, r.exit], ["EINTR", "KVM_EXIT_INTR"]);
  assert.equal(vcpu.runOnce().errnoName, "EINTR");
  vcpu.wake();
  expectExit(vcpu, "KVM_EXIT_SHUTDOWN");
  assert.equal(seen[0].R10, 0n);
});

Deno.test("KVM_RUN: every errno the spec lists", () => {
  const spec = kvmBed({}, false).platform.spec;
  const idle: GuestProgram = function* (port: GuestPort) {
    yield* tdvmcall(spec, port, { R10: 0n, R11: sub(spec, "GetQuote"), R12: SHARED, R13: 0x1000n });
  };
  const fresh = () => running(idle);
  const built = () => {
    const bed = kvmBed();
    return buildTd(bed, { vcpus: 2, initVcpu: false });
  };
  runErrnoTable(spec, { kind: "ioctl", name: "KVM_RUN" }, [
    { errno: "EINVAL", why: "argument not 0", run: () => fresh().vcpu.call("KVM_RUN", 1) },
    {
      errno: "EINVAL",
      why: "the boot vCPU was not initialised",
      run: () => built().vcpus[0].runOnce(),
    },
    {
      errno: "EINVAL",
      why: "the TD is not finalised",
      run: () => {
        const bed = kvmBed();
        return buildTd(bed).vcpus[0].runOnce();
      },
    },
    {
      errno: "EINVAL",
      why: "kvm_valid_regs set",
      run: () => {
        const { vcpu } = fresh();
        vcpu.run[288] = 1;
        return vcpu.runOnce();
      },
    },
    {
      errno: "EINTR",
      why: "a signal is pending",
      run: () => {
        const { vcpu, vm } = fresh();
        vm.host.signals.pending = true;
        const r = vcpu.runOnce();
        assert.equal(r.exit, "KVM_EXIT_INTR");
        return r;
      },
    },
    {
      errno: "EINTR",
      why: "immediate_exit",
      run: () => {
        const { vcpu } = fresh();
        vcpu.runPage.immediateExit = true;
        return vcpu.runOnce();
      },
    },
    {
      errno: "EINTR",
      why: "an uninitialised AP waits for INIT/SIPI",
      run: () => built().vcpus[1].runOnce(),
    },
    {
      errno: "EIO",
      why: "the VM is dead",
      run: () => {
        const { vcpu, vm } = fresh();
        vm.bug("test", 0n);
        return vcpu.runOnce();
      },
    },
    {
      errno: "EFAULT",
      why: "the guest accepts a page whose attribute is shared (KVM_EXIT_MEMORY_FAULT)",
      run: () => {
        const t = running(acceptGuest(spec, 0x30_0000n));
        t.vm.call("KVM_SET_MEMORY_ATTRIBUTES", {
          address: 0x30_0000n,
          size: 0x1000n,
          attributes: 0n,
          flags: 0n,
        });
        const r = t.vcpu.runOnce();
        assert.equal(r.exit, "KVM_EXIT_MEMORY_FAULT");
        const f = t.vcpu.runPage.exit("kvm_run_memory_fault");
        assert.deepEqual([f.gpa, f.size, f.flags], [
          0x30_0000n,
          0x1000n,
          tdxValue(spec, "KVM_RUN", "KVM_MEMORY_EXIT_FLAG_PRIVATE"),
        ]);
        return r;
      },
    },
  ]);
});

/** A guest that accepts one private page (TDG.MEM.PAGE.ACCEPT) and records the status. */
function acceptGuest(spec: Spec, gpa: bigint, seen: bigint[] = []): GuestProgram {
  return function* (port) {
    const leaf = spec.tdcall("TDG.MEM.PAGE.ACCEPT");
    const input = leaf.inputs.find((i) => i.reg === "RCX")!.name;
    // An EPT violation exits to the host, which maps the page; the guest then retries.
    for (;;) {
      const { regs } = tdcallByName(spec, port, "TDG.MEM.PAGE.ACCEPT", { [input]: gpa });
      if (!port.exitRequested) {
        seen.push(regs.RAX);
        return;
      }
      yield;
    }
  };
}

Deno.test("a private page the guest accepts after finalisation is added with TDH.MEM.PAGE.AUG", () => {
  const spec = kvmBed({}, false).platform.spec;
  const seen: bigint[] = [];
  const { vcpu, bed } = running(acceptGuest(spec, 0x30_0000n, seen));
  bed.mark();
  expectExit(vcpu, "KVM_EXIT_SHUTDOWN");
  const calls = bed.calls();
  assert.deepEqual(calls.filter((c) => c !== "TDH.VP.ENTER"), [
    "TDH.MEM.SEPT.ADD",
    "TDH.MEM.SEPT.ADD",
    "TDH.MEM.SEPT.ADD",
    "TDH.MEM.PAGE.AUG",
  ]);
  assert.deepEqual(seen, [0n]);
});

Deno.test("KVM_PRE_FAULT_MEMORY maps private pages with TDH.MEM.PAGE.AUG once the TD is finalised", () => {
  const bed = kvmBed();
  const { vm, vcpus: [vcpu] } = buildTd(bed, { memory: { gpa: 0n, size: 4n << 20n } });
  const pre = (gpa: bigint, size: bigint, flags = 0n) => {
    const buf = vm.host.codec.encode("kvm_pre_fault_memory", { gpa, size, flags });
    const r = vcpu.call("KVM_PRE_FAULT_MEMORY", buf);
    return { ...r, back: vm.host.codec.decode("kvm_pre_fault_memory", buf).value };
  };
  assert.equal(pre(0n, 0x1000n).errnoName, "EOPNOTSUPP");
  assert.equal(tdxCommand(vm, "KVM_TDX_FINALIZE_VM", 0n).errno, 0);
  bed.mark();
  const r = pre(0x1000n, 0x2000n);
  assert.equal(r.errno, 0);
  assert.deepEqual([r.back.gpa, r.back.size], [0x3000n, 0n]);
  assert.deepEqual(bed.calls(), [
    "TDH.MEM.SEPT.ADD",
    "TDH.MEM.SEPT.ADD",
    "TDH.MEM.SEPT.ADD",
    "TDH.MEM.PAGE.AUG",
    "TDH.MEM.PAGE.AUG",
  ]);
  // Pre-faulting a mapped page again is no error and no SEAMCALL.
  bed.mark();
  assert.equal(pre(0x1000n, 0x1000n).errno, 0);
  assert.deepEqual(bed.calls(), []);
  assert.equal(pre(SHARED, 0x1000n).errnoName, "EINVAL");
  assert.equal(pre(0x1000n, 0x1000n, 1n).errnoName, "EINVAL");
  assert.equal(pre(0x1001n, 0x1000n).errnoName, "EINVAL");
  assert.equal(pre(0x1000_0000n, 0x1000n).errnoName, "ENOENT");
});

Deno.test("KVM_CREATE_VCPU on a TD: split irqchip required, only after KVM_TDX_INIT_VM", () => {
  const bed = kvmBed();
  const vm = bed.kvm.createVm().vm!;
  assert.equal(vm.createVcpu(0).errnoName, "EIO");
  const { vm: td } = buildTd(bed, { vcpus: 1 });
  assert.equal(td.createVcpu(0).errnoName, "EEXIST");
  assert.equal(td.createVcpu(0x1000).errnoName, "EINVAL");
  for (let i = 1; i < td.maxVcpus; i++) assert.equal(td.createVcpu(i).errno, 0);
  assert.equal(td.createVcpu(99).errnoName, "EINVAL");
  assert.equal(td.checkExtension("KVM_CAP_MAX_VCPUS"), BigInt(bed.platform.cpu.lps.length));
});

Deno.test("a vCPU moved to another CPU is flushed off the old one first", () => {
  const seen: Registers[] = [];
  const spec = kvmBed({}, false).platform.spec;
  const s = sub(spec, "GetTdVmCallInfo");
  const { vcpu, bed } = running(vmcallGuest(spec, [{ R10: 0n, R11: s, R12: 1n }], seen));
  expectExit(vcpu, "KVM_EXIT_TDX");
  const old = vcpu.cpu;
  vcpu.lp = (old + 1) % bed.platform.cpu.lps.length;
  bed.mark();
  expectExit(vcpu, "KVM_EXIT_SHUTDOWN");
  assert.deepEqual(bed.calls(), ["TDH.VP.FLUSH", "TDH.VP.ENTER"]);
  const log = vcpu.host.seam.log;
  const flush = log.findLast((c) => c.name === "TDH.VP.FLUSH")!;
  const enter = log.findLast((c) => c.name === "TDH.VP.ENTER")!;
  assert.deepEqual([flush.lp, enter.lp], [old, vcpu.lp]);
  assert.equal(seen[0].R10, 0n);
});
