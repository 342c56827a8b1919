// One trip into the TD: TDH.VP.ENTER with the registers KVM hands the guest
// (vp_enter_args), then the TD exit decoded and handled as tdx_handle_exit does.
import { decodeBits } from "../spec/bits.ts";
import { fail, type Failure } from "./errno.ts";
import { tdxValue } from "./ioctl_number.ts";
import { faultIn } from "./private_fault.ts";
import { findEntry } from "./tdx_cpuid.ts";
import { type ExitResult, handleTdvmcall, setReturnCode } from "./tdvmcall.ts";
import type { KvmVcpu } from "./vcpu.ts";

const GPRS = [
  "RDX",
  "RBX",
  "RSI",
  "RDI",
  "R8",
  "R9",
  "R10",
  "R11",
  "R12",
  "R13",
  "R14",
  "R15",
] as const;

function vmx(vcpu: KvmVcpu, name: string): number {
  return Number(vcpu.spec.enumValue("VMX_EXIT_REASON", name));
}

function statusBit(vcpu: KvmVcpu, name: string): bigint {
  const f = vcpu.spec.bitfield("TDX_STATUS").fields.find((x) => x.name === name)!;
  return 1n << BigInt(f.bits[0]);
}

/** tdh_vp_enter: no retry; every GPR KVM keeps for the guest goes in, all come back. */
export function enterGuest(vcpu: KvmVcpu): void {
  const seam = vcpu.vm.host.seam;
  const leaf = vcpu.spec.seamcall("TDH.VP.ENTER");
  const inputs: Record<string, bigint> = {};
  for (const reg of GPRS) {
    const inp = leaf.inputs.find((i) => i.reg === reg);
    if (inp) inputs[inp.name] = vcpu.args[reg];
  }
  inputs[leaf.inputs.find((i) => i.reg === "RCX")!.name] = vcpu.tdvpr!;
  const r = seam.once(vcpu.cpu, "TDH.VP.ENTER", inputs);
  vcpu.vpEnterRet = r.status;
  for (const reg of ["RCX", ...GPRS] as const) vcpu.args[reg] = r.regs[reg];
}

/** tdx_to_vmx_exit_reason: the exit reason KVM dispatches on (-1: no usable exit). */
export function exitReason(vcpu: KvmVcpu): number {
  const seam = vcpu.vm.host.seam;
  const ret = vcpu.vpEnterRet;
  const usable = [
    "TDX_SUCCESS",
    "TDX_NON_RECOVERABLE_VCPU",
    "TDX_NON_RECOVERABLE_TD",
    "TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE",
    "TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE",
  ].some((s) => seam.is(ret, s));
  if (!usable) return -1;
  const reason = Number(ret & 0xFFFF_FFFFn);
  if (reason === vmx(vcpu, "TDCALL")) {
    // A non-zero R10 is a vendor-specific TDVMCALL: KVM treats it as a KVM hypercall.
    if (vcpu.args.R10 !== 0n) return vmx(vcpu, "VMCALL_INSTRUCTION");
    const sub = Number(vcpu.args.R11);
    for (
      const n of ["CPUID_INSTRUCTION", "HLT_INSTRUCTION", "IO_INSTRUCTION", "MSR_READ", "MSR_WRITE"]
    ) {
      if (sub === vmx(vcpu, n)) return sub;
    }
    if (sub === vmx(vcpu, "EPT_VIOLATION")) return vmx(vcpu, "EPT_MISCONFIGURATION");
    return reason;
  }
  if (reason === vmx(vcpu, "EPT_MISCONFIGURATION")) return -1;
  return reason;
}

/** kvm_prepare_unexpected_reason_exit: KVM_EXIT_INTERNAL_ERROR with the raw result. */
function unhandled(vcpu: KvmVcpu): ExitResult {
  vcpu.runPage.setExitReason("KVM_EXIT_INTERNAL_ERROR");
  vcpu.runPage.setExit("kvm_run_internal", {
    suberror: Number(tdxValue(vcpu.spec, "KVM_RUN", "KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON")),
    ndata: 2,
    data: [vcpu.vpEnterRet, BigInt(vcpu.lastVmentryCpu), ...Array(14).fill(0n)],
  });
  return 0;
}

/** tdx_handle_exit. */
export function handleExit(vcpu: KvmVcpu): ExitResult {
  const { vm } = vcpu;
  const spec = vcpu.spec;
  const seam = vm.host.seam;
  const ret = vcpu.vpEnterRet;
  // The fast path: a busy S-EPT or epoch lock just means "enter again".
  if (seam.is(ret, "TDX_OPERAND_BUSY")) return 1;
  if (ret === BigInt(vmx(vcpu, "EPT_MISCONFIGURATION"))) return vm.bug("TDH.VP.ENTER", ret);
  const sw = spec.statusValue("TDX_SW_ERROR");
  if ((ret & sw) === sw) {
    vm.bug("TDH.VP.ENTER", ret);
    return unhandled(vcpu);
  }
  const full = exitReason(vcpu);
  const info = decodeBits(spec.bitfield("VMX_EXIT_INFO").fields, BigInt(full >>> 0)).fields;
  if (full !== -1 && info.FAILED_VMENTRY) {
    vcpu.runPage.setExitReason("KVM_EXIT_FAIL_ENTRY");
    vcpu.runPage.setExit("kvm_run_fail_entry", {
      hardware_entry_failure_reason: BigInt(full >>> 0),
      cpu: vcpu.lastVmentryCpu,
    });
    return 0;
  }
  const basic = Number(info.BASIC);
  const fatal = statusBit(vcpu, "error") | statusBit(vcpu, "non_recoverable");
  if (full === -1 || ((ret & fatal) && basic !== vmx(vcpu, "TRIPLE_FAULT"))) return unhandled(vcpu);
  switch (basic) {
    case vmx(vcpu, "TRIPLE_FAULT"):
      vcpu.runPage.setExitReason("KVM_EXIT_SHUTDOWN");
      return 0;
    case vmx(vcpu, "EXCEPTION_OR_NMI"):
    case vmx(vcpu, "INTERRUPT"):
    case vmx(vcpu, "SMI_OTHER_EVENT"):
      return 1;
    case vmx(vcpu, "CPUID_INSTRUCTION"):
      return emulateCpuid(vcpu);
    case vmx(vcpu, "HLT_INSTRUCTION"):
      vcpu.mpState = "halted";
      return 1;
    case vmx(vcpu, "TDCALL"):
      return handleTdvmcall(vcpu);
    case vmx(vcpu, "VMCALL_INSTRUCTION"):
      // No KVM hypercall is defined for a TD: the guest gets -KVM_ENOSYS in R10.
      vcpu.args.R10 = BigInt.asUintN(64, -tdxValue(spec, "KVM_RUN", "KVM_ENOSYS"));
      return 1;
    case vmx(vcpu, "IO_INSTRUCTION"):
      return emulateIo(vcpu);
    case vmx(vcpu, "MSR_READ"):
      return emulateRdmsr(vcpu);
    case vmx(vcpu, "MSR_WRITE"):
      return emulateWrmsr(vcpu);
    case vmx(vcpu, "EPT_MISCONFIGURATION"):
      return emulateMmio(vcpu);
    case vmx(vcpu, "EPT_VIOLATION"):
      return eptViolation(vcpu);
    default:
      return unhandled(vcpu);
  }
}

/** tdx_emulate_cpuid: KVM's copy of the vCPU's CPUID (KVM_SET_CPUID2) answers. */
function emulateCpuid(vcpu: KvmVcpu): ExitResult {
  const a = vcpu.args;
  const e = findEntry(
    vcpu.spec,
    vcpu.cpuid,
    Number(a.R12 & 0xFFFF_FFFFn),
    Number(a.R13 & 0xFFFF_FFFFn),
  );
  a.R12 = BigInt(e?.eax ?? 0);
  a.R13 = BigInt(e?.ebx ?? 0);
  a.R14 = BigInt(e?.ecx ?? 0);
  a.R15 = BigInt(e?.edx ?? 0);
  return 1;
}

/** tdx_emulate_io: no in-kernel device claims a port, so the access goes to userspace. */
function emulateIo(vcpu: KvmVcpu): ExitResult {
  const a = vcpu.args;
  const size = a.R12;
  const write = a.R13;
  if ((write !== 0n && write !== 1n) || ![1n, 2n, 4n].includes(size)) {
    return setReturnCode(vcpu, "INVALID_OPERAND");
  }
  const dataOffset = 4096;
  vcpu.runPage.setExitReason("KVM_EXIT_IO");
  vcpu.runPage.setExit("kvm_run_io", {
    direction: Number(tdxValue(vcpu.spec, "KVM_RUN", write ? "KVM_EXIT_IO_OUT" : "KVM_EXIT_IO_IN")),
    size: Number(size),
    port: Number(a.R14 & 0xFFFFn),
    count: 1,
    data_offset: BigInt(dataOffset),
  });
  const n = Number(size);
  if (write) {
    for (let i = 0; i < n; i++) vcpu.run[dataOffset + i] = Number((a.R15 >> BigInt(8 * i)) & 0xFFn);
    vcpu.completeUserspaceIo = () => 1;
  } else {
    vcpu.completeUserspaceIo = (v) => {
      let val = 0n;
      for (let i = 0; i < n; i++) val |= BigInt(v.run[dataOffset + i]) << BigInt(8 * i);
      v.args.R11 = val;
      return 1;
    };
  }
  return 0;
}

/** tdx_emulate_mmio: a shared GPA no in-kernel device claims goes to userspace. */
function emulateMmio(vcpu: KvmVcpu): ExitResult {
  const a = vcpu.args;
  const size = a.R12;
  const write = a.R13;
  const gpa = a.R14;
  if (![1n, 2n, 4n, 8n].includes(size) || (write !== 0n && write !== 1n)) {
    return setReturnCode(vcpu, "INVALID_OPERAND");
  }
  if (vcpu.vm.isPrivateGpa(gpa) || vcpu.vm.isPrivateGpa(gpa + size - 1n)) {
    return setReturnCode(vcpu, "INVALID_OPERAND");
  }
  const data = new Uint8Array(8);
  if (write) new DataView(data.buffer).setBigUint64(0, a.R15, true);
  vcpu.runPage.setExitReason("KVM_EXIT_MMIO");
  vcpu.runPage.setExit("kvm_run_mmio", {
    phys_addr: gpa & ~vcpu.vm.td.sharedBit,
    data,
    len: Number(size),
    is_write: Number(write),
  });
  if (!write) {
    vcpu.completeUserspaceIo = (v) => {
      const d = v.runPage.exit("kvm_run_mmio").data as Uint8Array;
      let val = 0n;
      for (let i = 0; i < Number(size); i++) val |= BigInt(d[i]) << BigInt(8 * i);
      v.args.R11 = val;
      return 1;
    };
  }
  return 0;
}

function emulateRdmsr(vcpu: KvmVcpu): ExitResult {
  const v = vcpu.msrs.read(vcpu.args.R12 & 0xFFFF_FFFFn);
  if (v === undefined) return setReturnCode(vcpu, "INVALID_OPERAND");
  vcpu.args.R11 = v;
  return 1;
}

function emulateWrmsr(vcpu: KvmVcpu): ExitResult {
  if (!vcpu.msrs.write(vcpu.args.R12 & 0xFFFF_FFFFn, vcpu.args.R13)) {
    return setReturnCode(vcpu, "INVALID_OPERAND");
  }
  return 1;
}

/** tdx_handle_ept_violation: fault the page in (a private one through the S-EPT). */
function eptViolation(vcpu: KvmVcpu): ExitResult {
  const { vm, spec } = vcpu;
  const gpa = vcpu.args.R8;
  const isPrivate = vm.isPrivateGpa(gpa);
  if (isPrivate) {
    const ext = decodeBits(spec.bitfield("TD_EXIT_EXT_QUALIFICATION").fields, vcpu.args.RDX).fields;
    const eq =
      decodeBits(spec.bitfield("VMX_EPT_VIOLATION_QUALIFICATION").fields, vcpu.args.RCX).fields;
    const pending = ext.TYPE === spec.enumValue("TD_EXIT_EEQ_TYPE", "PENDING_EPT_VIOLATION");
    if (pending && !(eq.GPA_READABLE || eq.GPA_WRITEABLE || eq.GPA_EXECUTABLE)) {
      // The guest touched a page it never accepted: with SEPT_VE_DISABLE that kills the TD.
      return vm.bug("access to an unaccepted private page", vcpu.vpEnterRet);
    }
  }
  const r = faultIn(vcpu, gpa, isPrivate);
  if (typeof r !== "string") return r;
  return 1;
}

export function signalExit(vcpu: KvmVcpu): Failure {
  vcpu.runPage.setExitReason("KVM_EXIT_INTR");
  return fail("EINTR");
}
