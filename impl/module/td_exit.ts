// TD exits as TDH.VP.ENTER reports them to the host, and the vCPU state they leave:
// - a synchronous exit (TDG.VP.VMCALL): RAX = TDX_SUCCESS with exit reason TDCALL, RCX =
//   the guest's GPR/XMM select bitmaps, each selected GPR copied out and the others 0
//   (RBP kept when the TD has CONFIG_FLAGS.NO_RBP_MOD); the next entry copies the host's
//   selected GPRs back into the guest;
// - an asynchronous exit: RAX = the exit status class with the VMX exit reason in bits
//   31:0, RCX = exit qualification and VM, RDX = extended qualification, R8 = GPA, R9 =
//   interruption information, every other GPR 0. The class decides what happens to the
//   vCPU (READY again, DISABLED) or the TD (fatal).
import { decodeBits, encodeBits } from "../spec/bits.ts";
import type { Completion } from "./completion.ts";
import type { LeafContext } from "./leaf_context.ts";
import type { Gpr, Registers } from "../cpu/registers.ts";
import type {
  PendingAsyncExit,
  PendingEptViolation,
  PendingTdvmcall,
  TdState,
  VcpuState,
} from "./state.ts";
import { levelAndState } from "./sept.ts";
import { traits } from "./sept_states.ts";

/** GPR i of the x86 numbering (spec enum GPR_INDEX), as a register name. */
export function gprByIndex(ctx: LeafContext, i: number): Gpr {
  const v = ctx.spec.enum("GPR_INDEX").values.find((x) => BigInt(x.value) === BigInt(i));
  if (!v) throw new Error(`GPR_INDEX has no register ${i}`);
  return v.name as Gpr;
}

function noRbpMod(ctx: LeafContext, td: TdState): boolean {
  return decodeBits(ctx.spec.bitfield("CONFIG_FLAGS").fields, td.configFlags ?? 0n).fields
    .NO_RBP_MOD === 1n;
}

/** Bits 15:0 of a TDG.VP.VMCALL control: the GPR select bitmap. */
function gprSelect(ctx: LeafContext, mask: bigint): bigint {
  const f = ctx.spec.tdcall("TDG.VP.VMCALL").inputs.find((r) => r.name === "control")!.fields!;
  return decodeBits(f, mask).fields.GPR_SELECT;
}

/** RAX and RCX are never passed; from RDX on, each GPR the guest selected is. */
function passedGprs(ctx: LeafContext, td: TdState, mask: bigint): { reg: Gpr; on: boolean }[] {
  const select = gprSelect(ctx, mask);
  // RSP can never be selected and the host's own RSP is restored by the CPU on exit.
  const skip = new Set(["RAX", "RCX", "RSP"]);
  const out: { reg: Gpr; on: boolean }[] = [];
  for (let i = 0; i < 16; i++) {
    const reg = gprByIndex(ctx, i);
    if (skip.has(reg)) continue;
    const on = ((select >> BigInt(i)) & 1n) === 1n;
    // With NO_RBP_MOD the host's RBP is never touched.
    if (reg === "RBP" && !on && noRbpMod(ctx, td)) continue;
    out.push({ reg, on });
  }
  return out;
}

/** TD exit for TDG.VP.VMCALL: the guest's selected GPRs go to the host. */
export function tdvmcallExit(
  ctx: LeafContext,
  td: TdState,
  vcpu: VcpuState,
  p: PendingTdvmcall,
): Completion {
  for (const { reg, on } of passedGprs(ctx, td, p.mask)) {
    ctx.regs[reg] = on ? p.regs[reg] : 0n;
  }
  ctx.outFields("exit_qualification", {
    exit_qualification_or_select: p.mask & 0xFFFF_FFFFn,
    vm: BigInt(vcpu.currVm ?? 0),
  });
  vcpu.state = "initialized";
  vcpu.lastTdExit = "LAST_EXIT_TDVMCALL";
  return ctx.status("TDX_SUCCESS", ctx.spec.enumValue("VMX_EXIT_REASON", "TDCALL"));
}

/** On the entry after a TDG.VP.VMCALL exit: the host's selected GPRs go to the guest. */
export function tdvmcallReturn(
  ctx: LeafContext,
  td: TdState,
  p: PendingTdvmcall,
  host: Registers,
): void {
  for (const { reg, on } of passedGprs(ctx, td, p.mask)) if (on) p.regs[reg] = host[reg];
  // The guest's TDCALL completes successfully, with its control in RCX as it gave it.
  p.regs.RAX = ctx.spec.statusValue("TDX_SUCCESS");
  p.regs.RCX = p.mask;
}

/** What each asynchronous exit class does to the vCPU and the TD. */
function applyExitClass(td: TdState, vcpu: VcpuState, status: string): void {
  switch (status) {
    case "TDX_CROSS_TD_TRAP":
    case "TDX_HOST_PRIORITY_BUSY_TIMEOUT":
      vcpu.state = "initialized";
      vcpu.lastTdExit = "LAST_EXIT_ASYNC_TRAP";
      return;
    case "TDX_NON_RECOVERABLE_VCPU":
      vcpu.state = "disabled";
      return;
    case "TDX_NON_RECOVERABLE_TD":
    case "TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE":
    case "TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE":
    case "TDX_NON_RECOVERABLE_TD_CORRUPTED_MD":
      // The vCPU keeps its state; the whole TD becomes unusable.
      td.fatal = true;
      return;
    default:
      vcpu.state = "initialized";
      vcpu.lastTdExit = "LAST_EXIT_ASYNC_FAULT";
  }
}

/** An asynchronous TD exit: its class, the VMX exit reason and the exit information. */
export function asyncExit(
  ctx: LeafContext,
  td: TdState,
  vcpu: VcpuState,
  e: Omit<PendingAsyncExit, "kind">,
): Completion {
  applyExitClass(td, vcpu, e.status);
  for (const reg of ["RBX", "RBP", "RSI", "RDI", "R10", "R11", "R12", "R13", "R14", "R15"]) {
    ctx.regs[reg as Gpr] = 0n;
  }
  ctx.outFields("exit_qualification", {
    exit_qualification_or_select: (e.qualification ?? 0n) & 0xFFFF_FFFFn,
    vm: BigInt(vcpu.currVm ?? 0),
  });
  ctx.out("ext_exit_qualification", e.extQualification ?? 0n);
  ctx.out("gpa", e.gpa ?? 0n);
  ctx.out("interruption_info", e.interruptionInfo ?? 0n);
  return ctx.status(e.status, ctx.spec.enumValue("VMX_EXIT_REASON", e.reason));
}

/**
 * The EPT-violation exit of a TDCALL whose GPA did not translate: a read (or, for
 * TDG.MEM.PAGE.ACCEPT, a write) of the page, the entry's permissions, an ACCEPT-type
 * extended qualification with the requested and faulting levels, or PENDING_EPT_VIOLATION
 * for a pending page the TD wants no #VE for; the GPA without its page offset.
 */
export function eptViolationInfo(
  ctx: LeafContext,
  v: PendingEptViolation,
): Omit<PendingAsyncExit, "kind"> {
  const spec = ctx.spec;
  const rwx = v.state && !v.shared ? traits(v.state).rwx : 0n;
  const bit = (n: bigint) => (rwx >> n) & 1n;
  const write = v.accept !== undefined;
  const qualification = encodeBits(spec.bitfield("VMX_EPT_VIOLATION_QUALIFICATION").fields, {
    DATA_READ: write ? 0n : 1n - bit(0n),
    DATA_WRITE: write ? 1n : 0n,
    GPA_READABLE: bit(0n),
    GPA_WRITEABLE: bit(1n),
    GPA_EXECUTABLE: bit(2n),
  });
  const eeq = spec.bitfield("TD_EXIT_EXT_QUALIFICATION").fields;
  let extQualification = 0n;
  if (v.accept && v.state) {
    const state = decodeBits(
      spec.bitfield("SEPT_LEVEL_AND_STATE").fields,
      levelAndState(spec, v.level, v.state),
    ).fields.state;
    const info = encodeBits(spec.bitfield("TDACCEPT_EEQ_INFO").fields, {
      REQ_SEPT_LEVEL: BigInt(v.accept.level),
      ERR_SEPT_LEVEL: BigInt(v.level),
      ERR_SEPT_STATE: state,
      ERR_SEPT_IS_LEAF: traits(v.state).leaf ? 1n : 0n,
    });
    extQualification = encodeBits(eeq, {
      TYPE: spec.enumValue("TD_EXIT_EEQ_TYPE", "ACCEPT"),
      INFO: info,
    });
  } else if (!v.shared && v.state && traits(v.state).pending) {
    extQualification = encodeBits(eeq, {
      TYPE: spec.enumValue("TD_EXIT_EEQ_TYPE", "PENDING_EPT_VIOLATION"),
    });
  }
  return {
    status: "TDX_SUCCESS",
    reason: "EPT_VIOLATION",
    qualification,
    extQualification,
    gpa: v.gpa & ~0xFFFn,
  };
}

/** The TDCALL status bit TDH.VP.ENTER's hint sets after a trap-like exit. */
export function withRecoverabilityHint(ctx: LeafContext, status: bigint, hint: bigint): bigint {
  const f = ctx.spec.bitfield("TDX_STATUS").fields;
  const all = decodeBits(f, status).fields;
  return encodeBits(f, { ...all, host_recoverability_hint: hint });
}
