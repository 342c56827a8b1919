// TDVMCALLs KVM answers from the guest's registers after a TDG.VP.VMCALL TD exit
// (handle_tdvmcall): MapGPA becomes KVM_EXIT_HYPERCALL, GetQuote,
// SetupEventNotifyInterrupt and GetTdVmCallInfo leaf 1 become KVM_EXIT_TDX, the rest is
// answered in the kernel (GetQuote too, when the host quotes with the module's Quoting
// extension: tdx_quote.ts). The VMM's answer reaches the guest through the completion
// callback that runs at the next KVM_RUN.
import { parseHex } from "../spec/hex.ts";
import { errnoValue, fail, type Failure } from "./errno.ts";
import { tdxValue } from "./ioctl_number.ts";
import type { KvmVcpu } from "./vcpu.ts";
import { getQuoteInKernel } from "./tdx_quote.ts";

/** 1: re-enter the guest; 0: return to userspace; a Failure: KVM_RUN fails. */
export type ExitResult = 0 | 1 | Failure;

export function vmcallStatus(vcpu: KvmVcpu, name: string): bigint {
  return vcpu.spec.statusValue(`TDG.VP.VMCALL_${name}`);
}

function subfunction(vcpu: KvmVcpu, name: string): bigint {
  return parseHex(vcpu.spec.tdvmcall(name).subfunction);
}

function exitNr(vcpu: KvmVcpu, name: string): bigint {
  return vcpu.spec.enumValue("kvm_tdx_exit_nr", name);
}

/** tdvmcall_set_return_code: the status the guest finds in R10. */
export function setReturnCode(vcpu: KvmVcpu, name: string): 1 {
  vcpu.args.R10 = vmcallStatus(vcpu, name);
  return 1;
}

export function handleTdvmcall(vcpu: KvmVcpu): ExitResult {
  const leaf = vcpu.args.R11;
  if (leaf === subfunction(vcpu, "MapGPA")) return mapGpa(vcpu);
  if (leaf === subfunction(vcpu, "ReportFatalError")) return reportFatalError(vcpu);
  if (leaf === subfunction(vcpu, "GetTdVmCallInfo")) return getTdVmCallInfo(vcpu);
  if (leaf === subfunction(vcpu, "GetQuote")) return getQuote(vcpu);
  if (leaf === subfunction(vcpu, "SetupEventNotifyInterrupt")) return setupEventNotify(vcpu);
  return setReturnCode(vcpu, "SUBFUNC_UNSUPPORTED");
}

/** The VMM's status in kvm_run.tdx.ret (offset 16 in every view) becomes the guest's R10. */
function completeSimple(vcpu: KvmVcpu): ExitResult {
  vcpu.args.R10 = vcpu.runPage.exitField("kvm_run_tdx_exit", "ret");
  return 1;
}

function getQuote(vcpu: KvmVcpu): ExitResult {
  const gpa = vcpu.args.R12;
  const size = vcpu.args.R13;
  if (vcpu.vm.isPrivateGpa(gpa)) return setReturnCode(vcpu, "INVALID_OPERAND");
  if (vcpu.vm.host.quoteBuffer) return getQuoteInKernel(vcpu, gpa & ~vcpu.vm.td.sharedBit, size);
  vcpu.runPage.setExitReason("KVM_EXIT_TDX");
  vcpu.runPage.setExit("kvm_run_tdx_get_quote", {
    flags: 0n,
    nr: exitNr(vcpu, "TDVMCALL_GET_QUOTE"),
    ret: vmcallStatus(vcpu, "SUBFUNC_UNSUPPORTED"),
    gpa: gpa & ~vcpu.vm.td.sharedBit,
    size,
    unused: new Uint8Array(24),
  });
  vcpu.completeUserspaceIo = completeSimple;
  return 0;
}

function setupEventNotify(vcpu: KvmVcpu): ExitResult {
  const vector = vcpu.args.R12;
  // Userspace delivers the notification, and with in-kernel quoting it never sees a GetQuote.
  if (vcpu.vm.host.quoteBuffer) return setReturnCode(vcpu, "SUBFUNC_UNSUPPORTED");
  // The GHCI's vector range: the architectural exception vectors 0-31 are not allowed.
  if (vector < 32n || vector > 255n) return setReturnCode(vcpu, "INVALID_OPERAND");
  vcpu.runPage.setExitReason("KVM_EXIT_TDX");
  vcpu.runPage.setExit("kvm_run_tdx_setup_event_notify", {
    flags: 0n,
    nr: exitNr(vcpu, "TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT"),
    ret: vmcallStatus(vcpu, "SUBFUNC_UNSUPPORTED"),
    vector,
    unused: new Uint8Array(32),
  });
  vcpu.completeUserspaceIo = completeSimple;
  return 0;
}

function getTdVmCallInfo(vcpu: KvmVcpu): ExitResult {
  const a = vcpu.args;
  switch (a.R12) {
    case 0n:
      a.R11 =
        a.R12 =
        a.R13 =
        a.R14 =
          0n;
      return setReturnCode(vcpu, "SUCCESS");
    case 1n:
      vcpu.runPage.setExitReason("KVM_EXIT_TDX");
      vcpu.runPage.setExit("kvm_run_tdx_get_tdvmcall_info", {
        flags: 0n,
        nr: exitNr(vcpu, "TDVMCALL_GET_TD_VM_CALL_INFO"),
        ret: vmcallStatus(vcpu, "SUCCESS"),
        leaf: a.R12,
        r11: 0n,
        r12: 0n,
        r13: 0n,
        r14: 0n,
      });
      vcpu.completeUserspaceIo = (v) => {
        const view = "kvm_run_tdx_get_tdvmcall_info";
        v.args.R10 = v.runPage.exitField(view, "ret");
        v.args.R11 = v.runPage.exitField(view, "r11");
        v.args.R12 = v.runPage.exitField(view, "r12");
        v.args.R13 = v.runPage.exitField(view, "r13");
        v.args.R14 = v.runPage.exitField(view, "r14");
        return 1;
      };
      return 0;
    default:
      return setReturnCode(vcpu, "INVALID_OPERAND");
  }
}

function reportFatalError(vcpu: KvmVcpu): ExitResult {
  const a = vcpu.args;
  vcpu.runPage.setExitReason("KVM_EXIT_SYSTEM_EVENT");
  vcpu.runPage.setExit("kvm_run_system_event", {
    type: Number(tdxValue(vcpu.spec, "KVM_RUN", "KVM_SYSTEM_EVENT_TDX_FATAL")),
    ndata: 16,
    // The 16 GPRs in VCPU_REGS order; RSP and RBP are not exposed.
    data: [
      vcpu.vpEnterRet,
      a.RCX,
      a.RDX,
      a.RBX,
      0n,
      0n,
      a.RSI,
      a.RDI,
      a.R8,
      a.R9,
      a.R10,
      a.R11,
      a.R12,
      a.R13,
      a.R14,
      a.R15,
    ],
  });
  return 0;
}

// --- MapGPA ---------------------------------------------------------------------------

function mapGpa(vcpu: KvmVcpu): ExitResult {
  const { vm, args } = vcpu;
  const spec = vm.spec;
  const gpa = args.R12;
  const size = args.R13;
  const error = (status: string): ExitResult => {
    setReturnCode(vcpu, status);
    args.R11 = gpa;
    return 1;
  };
  const mapGpaBit = tdxValue(spec, "KVM_ENABLE_CAP", "BIT(KVM_HC_MAP_GPA_RANGE) in args[0]");
  if (!(vm.hypercallExitMask & mapGpaBit)) return error("SUBFUNC_UNSUPPORTED");
  const end = gpa + size;
  if (
    end >= 1n << 64n || end <= gpa || !vcpu.isLegalGpa(gpa) || !vcpu.isLegalGpa(end - 1n) ||
    vm.isPrivateGpa(gpa) !== vm.isPrivateGpa(end - 1n)
  ) {
    return error("INVALID_OPERAND");
  }
  if ((gpa | size) & 0xFFFn) return error("ALIGN_ERROR");
  vcpu.mapGpa = { next: gpa, end };
  mapGpaChunk(vcpu);
  return 0;
}

/** __tdx_map_gpa: one KVM_EXIT_HYPERCALL for the next chunk of at most 2 MiB. */
function mapGpaChunk(vcpu: KvmVcpu): void {
  const spec = vcpu.spec;
  const v = (n: string) => tdxValue(spec, "KVM_RUN", n);
  const { next, end } = vcpu.mapGpa!;
  const max = v("TDX_MAP_GPA_MAX_LEN");
  const size = end - next > max ? max : end - next;
  vcpu.runPage.setExitReason("KVM_EXIT_HYPERCALL");
  vcpu.runPage.setExit("kvm_run_hypercall", {
    nr: v("KVM_HC_MAP_GPA_RANGE"),
    args: [
      next & ~vcpu.vm.td.sharedBit,
      size / 4096n,
      vcpu.vm.isPrivateGpa(next)
        ? v("KVM_MAP_GPA_RANGE_ENCRYPTED")
        : v("KVM_MAP_GPA_RANGE_DECRYPTED"),
      0n,
      0n,
      0n,
    ],
    // Zero, not -ENOSYS: QEMU up to 9.2 expects KVM to leave it 0.
    ret: 0n,
    flags: v("KVM_EXIT_HYPERCALL_LONG_MODE"),
  });
  vcpu.completeUserspaceIo = completeMapGpa;
}

/** tdx_complete_vmcall_map_gpa: next chunk, or the guest's status from the VMM's answer. */
function completeMapGpa(vcpu: KvmVcpu): ExitResult {
  const spec = vcpu.spec;
  const ret = vcpu.runPage.exitField("kvm_run_hypercall", "ret");
  const st = vcpu.mapGpa!;
  const propagate = (status: string): ExitResult => {
    setReturnCode(vcpu, status);
    vcpu.args.R11 = st.next;
    return 1;
  };
  if (ret === BigInt(errnoValue(spec, "EAGAIN"))) return propagate("RETRY");
  if (ret === BigInt(errnoValue(spec, "EINVAL"))) return propagate("INVALID_OPERAND");
  if (ret !== 0n) return fail("EINVAL");
  st.next += tdxValue(spec, "KVM_RUN", "TDX_MAP_GPA_MAX_LEN");
  if (st.next >= st.end) return 1;
  // Linux stops here with RETRY when an interrupt is pending; the model has none.
  mapGpaChunk(vcpu);
  return 0;
}
