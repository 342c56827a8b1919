// A vCPU file descriptor: KVM_RUN through TDH.VP.ENTER, the KVM_TDX_* vCPU commands,
// KVM_SET_CPUID2 and KVM_PRE_FAULT_MEMORY, and the mmapped kvm_run page.
import { type Registers, registers } from "../cpu/registers.ts";
import type { DecodedStruct } from "../spec/codec.ts";
import { EmulatedMsrs } from "./emulated_msrs.ts";
import { fail, type Failure, type IoctlResult, isFailure } from "./errno.ts";
import { ioctlNumber, tdxValue } from "./ioctl_number.ts";
import { intArg, type IoctlHandler, KvmFile } from "./kvm_file.ts";
import type { KvmHost } from "./kvm_host.ts";
import { KvmRun } from "./kvm_run.ts";
import { faultIn } from "./private_fault.ts";
import { fieldOffset, fixedSize } from "./struct_layout.ts";
import { enterGuest, handleExit, signalExit } from "./td_exit.ts";
import type { CpuidEntry } from "./tdx_cpuid.ts";
import { entryFromStruct } from "./tdx_cpuid.ts";
import type { ExitResult } from "./tdvmcall.ts";
import { tdxVcpuIoctl } from "./tdx_vcpu_ops.ts";
import { flushVcpu } from "./teardown.ts";
import { type UserArg, UserPointer } from "./user_memory.ts";
import { encodeArg, type KvmVm } from "./vm.ts";

export class KvmVcpu extends KvmFile {
  protected readonly unknownIoctlErrno = "EINVAL";
  /** The logical processor the vCPU is loaded on (-1: none, it was flushed). */
  cpu = -1;
  /** The logical processor the VMM's thread for this vCPU runs on. */
  lp: number;
  lastVmentryCpu = -1;
  tdxState: "uninitialized" | "initialized" = "uninitialized";
  mpState: "uninitialized" | "runnable" | "halted";
  tdvpr?: bigint;
  tdcx: (bigint | undefined)[] = [];
  /** The posted-interrupt descriptor (kernel memory; its address goes into the TD VMCS). */
  piDesc?: bigint;
  /** The registers KVM exchanges with the guest through TDH.VP.ENTER (vp_enter_args). */
  readonly args: Registers = registers();
  vpEnterRet = 0n;
  cpuid: CpuidEntry[] = [];
  hasRun = false;
  readonly msrs: EmulatedMsrs;
  /** What KVM does with the VMM's answer on the next KVM_RUN (complete_userspace_io). */
  completeUserspaceIo?: (vcpu: KvmVcpu) => ExitResult;
  mapGpa?: { next: bigint; end: bigint };
  readonly runPage: KvmRun;
  readonly host: KvmHost;
  /** Model bound on re-entries within one KVM_RUN that make no progress (a busy loop). */
  private static readonly MAX_ENTRIES = 10_000;

  constructor(
    readonly vm: KvmVm,
    readonly id: number,
    readonly index: number,
    /** The vCPU fd's mmap: kvm_run, the PIO page and the coalesced-MMIO page. */
    readonly run: Uint8Array,
  ) {
    super(vm.spec);
    this.host = vm.host;
    this.lp = id % vm.host.cpu.lps.length;
    // With the local APIC in the kernel only the boot vCPU starts runnable.
    this.mpState = id === 0 ? "runnable" : "uninitialized";
    this.msrs = new EmulatedMsrs(vm.spec);
    this.runPage = new KvmRun(vm.spec, vm.host.codec, run);
  }

  protected override gate(): Failure | undefined {
    return this.vm.dead ? fail("EIO") : undefined;
  }

  protected install(file: KvmFile): number {
    return this.vm.host.installFile(file);
  }

  protected handlers(): [string, IoctlHandler][] {
    return [
      ["KVM_RUN", (a) => this.runIoctl(intArg(a))],
      ["KVM_MEMORY_ENCRYPT_OP", (a) => this.vm.isTd ? tdxVcpuIoctl(this, a) : fail("EINVAL")],
      ["KVM_SET_CPUID2", (a) => this.setCpuid2Ioctl(a)],
      ["KVM_PRE_FAULT_MEMORY", (a) => this.preFaultIoctl(a)],
      ["KVM_GET_TSC_KHZ", () => BigInt(this.vm.tscKhz)],
      ["KVM_SET_TSC_KHZ", () => this.vm.isTd ? fail("EINVAL") : 0n],
    ];
  }

  /** vcpu_load: moving to another CPU first flushes the vCPU off the old one. */
  load(): void {
    if (this.cpu === this.lp) return;
    if (this.vm.td.hkid !== undefined) flushVcpu(this);
    this.cpu = this.lp;
  }

  /** kvm_vcpu_is_legal_gpa: below the guest's MAXPHYADDR (CPUID, else the TD's GPAW). */
  isLegalGpa(gpa: bigint): boolean {
    const spec = this.spec;
    const leaf = Number(spec.enumValue("CPUID_LEAF", "ADDRESS_SIZES"));
    const e = this.cpuid.find((c) => c.function === leaf);
    const bits = e ? e.eax & 0xFF : this.vm.td.gpaw;
    return gpa < 1n << BigInt(bits);
  }

  releaseKernelPages(): void {
    if (this.piDesc !== undefined) this.vm.host.freePage(this.piDesc);
    this.piDesc = undefined;
  }

  // --- KVM_RUN ----------------------------------------------------------------------------

  private runIoctl(arg: bigint): bigint | Failure {
    if (arg !== 0n) return fail("EINVAL");
    const host = this.vm.host;
    this.load();
    this.runPage.flags = 0;
    const wantsToRun = !this.runPage.immediateExit;
    if (this.mpState === "uninitialized") {
      // An AP waits for INIT/SIPI, which a TD never gets: only a signal ends the wait.
      if (!wantsToRun) return fail("EINTR");
      return signalExit(this);
    }
    if (this.runPage.validRegs !== 0n || this.runPage.dirtyRegs !== 0n) return fail("EINVAL");
    if (this.completeUserspaceIo) {
      const cui = this.completeUserspaceIo;
      this.completeUserspaceIo = undefined;
      const r = cui(this);
      if (isFailure(r)) return r;
      if (r === 0) return 0n;
    }
    if (!wantsToRun) return fail("EINTR");
    if (this.tdxState !== "initialized" || this.vm.td.state !== "runnable") return fail("EINVAL");
    this.runPage.setExitReason("KVM_EXIT_UNKNOWN");
    for (let n = 0;; n++) {
      if (host.signals.pending || n >= KvmVcpu.MAX_ENTRIES) return signalExit(this);
      // A halted vCPU sleeps until an event; nothing in the model sends one but vcpu.wake().
      if (this.mpState === "halted") return signalExit(this);
      this.hasRun = true;
      this.lastVmentryCpu = this.cpu;
      enterGuest(this);
      const r = handleExit(this);
      if (isFailure(r)) {
        if (r.errno === "EINTR") return signalExit(this);
        return r;
      }
      if (r === 0) return 0n;
    }
  }

  /** Model hook (an interrupt for the vCPU, e.g. the VMM's MSI): wakes a halted vCPU. */
  wake(): void {
    if (this.mpState === "halted") this.mpState = "runnable";
  }

  // --- KVM_SET_CPUID2 ----------------------------------------------------------------------

  private setCpuid2Ioctl(a: UserArg): bigint | Failure {
    const spec = this.spec;
    const ptr = new UserPointer(this.vm.host.user, a);
    const head = ptr.read(0, fieldOffset(spec, "kvm_cpuid2", "entries"));
    if (isFailure(head)) return head;
    const nent = new DataView(head.buffer).getUint32(fieldOffset(spec, "kvm_cpuid2", "nent"), true);
    if (BigInt(nent) > tdxValue(spec, "KVM_SET_CPUID2", "KVM_MAX_CPUID_ENTRIES")) {
      return fail("E2BIG");
    }
    if (!this.vm.host.kmalloc()) return fail("ENOMEM");
    const size = head.length + nent * fixedSize(spec, "kvm_cpuid_entry2");
    const raw = ptr.read(0, size);
    if (isFailure(raw)) return raw;
    const v = this.vm.host.codec.decode("kvm_cpuid2", raw).value;
    const entries = (v.entries as DecodedStruct[]).map(entryFromStruct);
    if (this.hasRun && JSON.stringify(entries) !== JSON.stringify(this.cpuid)) {
      return fail("EINVAL");
    }
    this.cpuid = entries;
    return 0n;
  }

  // --- KVM_PRE_FAULT_MEMORY ----------------------------------------------------------------

  private preFaultIoctl(a: UserArg): bigint | Failure {
    const { vm } = this;
    const ptr = new UserPointer(vm.host.user, a);
    const raw = ptr.read(0, this.spec.ioctl("KVM_PRE_FAULT_MEMORY").arg_size);
    if (isFailure(raw)) return raw;
    const range = vm.host.codec.decode("kvm_pre_fault_memory", raw).value;
    let gpa = range.gpa as bigint;
    let size = range.size as bigint;
    if ((range.flags as bigint) !== 0n) return fail("EINVAL");
    if ((gpa | size) & 0xFFFn || gpa + size <= gpa || gpa + size >= 1n << 64n) {
      return fail("EINVAL");
    }
    this.load();
    const full = size;
    let r: Failure | undefined;
    do {
      if (vm.host.signals.pending) {
        r = fail("EINTR");
        break;
      }
      r = this.preFaultPage(gpa);
      if (r) break;
      size -= 4096n;
      gpa += 4096n;
    } while (size);
    const out = vm.host.codec.encode("kvm_pre_fault_memory", { ...range, gpa, size });
    const w = ptr.write(0, out);
    if (w) return w;
    return full === size && r ? r : 0n;
  }

  /** kvm_arch_vcpu_pre_fault_memory for one 4 KiB page. */
  private preFaultPage(gpa: bigint): Failure | undefined {
    const { vm } = this;
    if (!vm.td.preFaultAllowed && vm.isTd) return fail("EOPNOTSUPP");
    if (gpa & vm.td.sharedBit) return fail("EINVAL");
    const PRIVATE = tdxValue(
      this.spec,
      "KVM_SET_MEMORY_ATTRIBUTES",
      "KVM_MEMORY_ATTRIBUTE_PRIVATE",
    );
    const isPrivate = vm.isTd && (vm.attributes.get(gpa >> 12n) & PRIVATE) !== 0n;
    // A shared page is faulted in through its alias above the shared bit.
    const r = faultIn(this, isPrivate ? gpa : gpa | vm.td.sharedBit, isPrivate);
    if (r === "mmio") return fail("ENOENT");
    if (isFailure(r)) return r;
    return undefined;
  }

  // --- convenience ---------------------------------------------------------------------------

  call(name: string, arg?: UserArg | DecodedStruct): IoctlResult<KvmFile> {
    return this.ioctl(ioctlNumber(this.spec, name), encodeArg(this, name, arg));
  }

  /** KVM_RUN, with the exit reason's name from kvm_run. */
  runOnce(): IoctlResult<KvmFile> & { exit?: string } {
    const r = this.call("KVM_RUN", 0);
    return { ...r, exit: this.runPage.exitReasonName };
  }
}
