// Running an L2 VM and where its VM exits go (tdx_td_l2_dispatcher.c, td_exit.c):
// - an L2 -> L1 exit: the L2 state goes back to the L2_ENTER_GUEST_STATE buffer and the
//   L1 VMM's TDG.VP.ENTER completes with the exit reason in RAX bits 31:0 and the exit
//   information in RCX..R13;
// - a TD exit from L2 (an external interrupt, an SMI, the L2 VM's TDG.VP.VMCALL when L1
//   let it reach the host): the host's TDH.VP.ENTER returns with the VM in RCX. The next
//   entry resumes the L2 VM, or with RESUME_L1 the L1 VMM, whose TDG.VP.ENTER completes
//   with TDX_L2_EXIT_HOST_ROUTED_ASYNC (or _TDVMCALL) and the exit information;
// - L1's posted-interrupt notification arriving in L2 is an L2 -> L1 exit with
//   TDX_L2_EXIT_PENDING_INTERRUPT when it brings L1 a deliverable interrupt;
// - the host of a debuggable TD can turn L2 transitions into TD exits (L2_DEBUG_CTLS).
// The soft-translated GPAs (buffer, virtual-APIC page) are translated when their cached
// translation was dropped (l2_state.ts).
// The L2 VM's software is an L2Program (l2_guest.ts). The L2 VMCS's segment state is not
// modelled: the CS details and base L1 receives are 0, and so is the L2 CPL.
import type { GuestRunResult } from "../cpu/guest_execution.ts";
import type { Gpr, Registers } from "../cpu/registers.ts";
import { decodeBits, encodeBits } from "../spec/bits.ts";
import { StructCodec } from "../spec/codec.ts";
import { completion } from "./completion.ts";
import { catalog } from "./metadata.ts";
import { LeafContext } from "./leaf_context.ts";
import { translateGpa } from "./sept.ts";
import { traits } from "./sept_states.ts";
import type { TdState, VcpuState } from "./state.ts";
import { type L2ExitInfo, type L2GuestRegs, l2Of, perVmControls } from "./l2_state.ts";
import { type L2Stop, runL2Program } from "./l2_guest.ts";
import { tdgVpVmcall } from "./leaves/tdg_vp_vmcall.ts";

/** VM exits the module always hands to the L1 VMM (the unconditional L2 -> L1 exits). */
const TO_L1 = new Set([
  "TRIPLE_FAULT",
  "TASK_SWITCH",
  "VMCALL_INSTRUCTION",
  "APIC_WRITE",
  "GETSEC_INSTRUCTION",
  "RSM_INSTRUCTION",
  "VMCLEAR_INSTRUCTION",
  "VMLAUNCH_INSTRUCTION",
  "VMPTRLD_INSTRUCTION",
  "VMPTRST_INSTRUCTION",
  "VMREAD_INSTRUCTION",
  "VMRESUME_INSTRUCTION",
  "VMWRITE_INSTRUCTION",
  "VMXOFF_INSTRUCTION",
  "VMXON_INSTRUCTION",
  "INVLEPT",
  "INVLVPID",
  "VMFUNC_INSTRUCTION",
  "ENCLS_INSTRUCTION",
  "ENCLV_INSTRUCTION",
  "SGX_CONFLICT",
  "ENQCMD_PASID_TRANSLATION_FAILURE",
  "ENQCMDS_PASID_TRANSLATION_FAILURE",
  "SEAMCALL",
  "CPUID_INSTRUCTION",
  "LOADIWK_INSTRUCTION",
  "NMI_WINDOW",
  "INTERRUPT_WINDOW",
  "INVLPG_INSTRUCTION",
  "RDTSC_INSTRUCTION",
  "DR_ACCESS",
  "PAUSE_INSTRUCTION",
  "GDTR_IDTR_ACCESS",
  "LDTR_TR_ACCESS",
  "RDTSCP",
  "PREEMPTION_TIMER_EXPIRED",
  "RDRAND_INSTRUCTION",
  "RDSEED_INSTRUCTION",
  "INVPCID_INSTRUCTION",
  "XSAVES_INSTRUCTION",
  "XRSTORS_INSTRUCTION",
  "UMWAIT",
  "TPAUSE",
  "RDPMC_INSTRUCTION",
  "XSETBV_INSTRUCTION",
  "TPR_BELOW_THRESHOLD",
  "VIRTUALIZED_EOI",
  // Also #VE candidates in the module, but TDX 1.5 always exits to L1 for them.
  "HLT_INSTRUCTION",
  "INVD_INSTRUCTION",
  "IO_INSTRUCTION",
  "MWAIT_INSTRUCTION",
  "MONITOR_INSTRUCTION",
  "WBINVD_INSTRUCTION",
  "PCONFIG",
]);

/** VM exits that go to the host as an ordinary (TDX_SUCCESS) asynchronous TD exit. */
const TO_HOST = new Set(["INTERRUPT", "C_STATE_SMI", "INIT_EVENT", "SMI_IO_EVENT", "BUS_LOCK"]);

/** TDCALL is 66 0F 01 CC. */
const TDCALL_LENGTH = 4n;
/** How many times an L2 VM may be resumed inside one module call (a program that never stops). */
const MAX_RESUMES = 64;

const U32 = 0xFFFF_FFFFn;

/** `gpa`'s HPA with the TD's KeyID when it maps a guest-accessible private page. */
function privatePa(ctx: LeafContext, td: TdState, gpa: bigint): bigint | undefined {
  const t = translateGpa(ctx.spec, td, gpa);
  if (!t.ok || (traits(t.state).rwx & 1n) === 0n) return undefined;
  return ctx.cpu.memory.withKeyId(t.hpa, td.hkid);
}

/** VM `vm`'s guest-state buffer (physical, with KeyID): the cached translation, else a new one. */
function guestStatePa(ctx: LeafContext, td: TdState, vcpu: VcpuState, vm: number) {
  const l2 = l2Of(vcpu);
  const gpa = l2.guestStateGpa.get(vm)!;
  const pa = l2.stateHpa.get(vm) ?? privatePa(ctx, td, gpa);
  if (pa === undefined) return { ok: false as const, gpa };
  l2.stateHpa.set(vm, pa);
  return { ok: true as const, statePa: pa };
}

/**
 * translate_gpas: the soft-translated GPAs of VM `vm` (its guest-state buffer, then its
 * virtual-APIC page) through the L1 Secure EPT where not cached: the buffer's physical
 * address, or the GPA that failed.
 */
export function translateL2Gpas(
  ctx: LeafContext,
  td: TdState,
  vcpu: VcpuState,
  vm: number,
): { ok: true; statePa: bigint } | { ok: false; gpa: bigint } {
  const l2 = l2Of(vcpu);
  const state = guestStatePa(ctx, td, vcpu, vm);
  if (!state.ok) return state;
  const vapic = l2.vapicGpa.get(vm)!;
  const vapicPa = l2.vapicHpa.get(vm) ?? privatePa(ctx, td, vapic);
  if (vapicPa === undefined) return { ok: false, gpa: vapic };
  l2.vapicHpa.set(vm, vapicPa);
  return state;
}

/** L2_ENTER_GUEST_STATE's GPRs, in its order (RAX, RCX, RDX, RBX, RSP, ...). */
const GPR_FIELDS: readonly Gpr[] = [
  "RAX",
  "RCX",
  "RDX",
  "RBX",
  "RSP",
  "RBP",
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
];

/** Reads L2_ENTER_GUEST_STATE at `pa`. */
export function loadGuestState(ctx: LeafContext, pa: bigint): L2GuestRegs {
  const s = ctx.spec.struct("L2_ENTER_GUEST_STATE");
  const v = new StructCodec(ctx.spec).decode(s.name, ctx.cpu.memory.read(pa, s.size as number))
    .value as Record<string, unknown>;
  const gprs = Object.fromEntries(GPR_FIELDS.map((r) => [r, BigInt(v[r.toLowerCase()] as bigint)]));
  return {
    gprs: gprs as Registers,
    rflags: BigInt(v.rflags as bigint),
    rip: BigInt(v.rip as bigint),
    ssp: BigInt(v.ssp as bigint),
    interruptStatus: BigInt(v.interrupt_status as bigint),
  };
}

/** write_l2_enter_outputs: the VM's state back to its L2_ENTER_GUEST_STATE buffer. */
function storeGuestState(ctx: LeafContext, vcpu: VcpuState, vm: number): void {
  const l2 = l2Of(vcpu);
  const regs = l2.regs.get(vm);
  // The buffer was translated before the VM was entered (or resumed, host-routed).
  const pa = l2.stateHpa.get(vm);
  if (!regs || pa === undefined) throw new Error(`L2 VM ${vm} has no translated buffer`);
  const value: Record<string, bigint> = {
    rflags: regs.rflags,
    rip: regs.rip,
    ssp: regs.ssp,
    interrupt_status: regs.interruptStatus,
  };
  for (const r of GPR_FIELDS) value[r.toLowerCase()] = regs.gprs[r];
  ctx.cpu.memory.write(pa, new StructCodec(ctx.spec).encode("L2_ENTER_GUEST_STATE", value));
}

/** The GPR holding TDG.VP.ENTER's output `name`. */
function outReg(ctx: LeafContext, name: string): Gpr {
  const r = ctx.spec.tdcall("TDG.VP.ENTER").outputs.find((o) => o.name === name);
  if (!r) throw new Error(`TDG.VP.ENTER has no output ${name}`);
  return r.reg as Gpr;
}

/**
 * The L1 VMM's view of an L2 exit: its TDG.VP.ENTER completes with `status` and the exit
 * reason, the exit information in its output registers; L1 becomes the current VM.
 */
function completeToL1(
  ctx: LeafContext,
  vcpu: VcpuState,
  status: string,
  exit: L2ExitInfo,
): bigint {
  const l2 = l2Of(vcpu);
  const regs = l2.l1Regs;
  if (!regs) throw new Error("an L2 exit to L1 with no TDG.VP.ENTER of L1 pending");
  const reason = ctx.spec.enumValue("VMX_EXIT_REASON", exit.reason);
  const out: [string, bigint][] = [
    ["reserved", 0n],
    ["exit_qualification", exit.qualification ?? 0n],
    ["guest_linear_address", exit.gla ?? 0n],
    ["cs_details", 0n],
    ["cs_base", 0n],
    ["guest_physical_address", exit.gpa ?? 0n],
    ["exit_interruption", exit.interruption ?? 0n],
    ["idt_vectoring", exit.idtVectoring ?? 0n],
    ["instruction", exit.instruction ?? 0n],
    ["additional_info", 0n],
    ["extended_exit_qualification", exit.extQualification ?? 0n],
    ["reserved_r14", 0n],
    ["reserved_r15", 0n],
  ];
  for (const [name, v] of out) regs[outReg(ctx, name)] = v;
  regs.RAX = completion(ctx.spec, status, reason).status;
  vcpu.currVm = 0;
  l2.l1Regs = undefined;
  return regs.RAX;
}

/** An asynchronous TD exit from L2 VM `vm`; the L2 state goes back to its buffer. */
function tdExitFromL2(
  ctx: LeafContext,
  _td: TdState,
  vcpu: VcpuState,
  vm: number,
  status: string,
  exit: L2ExitInfo,
): "td-exit" {
  l2Of(vcpu).lastExit = exit;
  storeGuestState(ctx, vcpu, vm);
  vcpu.pendingExit = {
    kind: "async",
    status,
    reason: exit.reason,
    qualification: exit.qualification ?? 0n,
    interruptionInfo: (exit.interruption ?? 0n) & U32,
  };
  ctx.cpu.requestTdExit(ctx.lp);
  return "td-exit";
}

/** td_l2_to_l1_exit: to L1, unless the host of a debuggable TD wants a TD exit. */
function toL1(
  ctx: LeafContext,
  td: TdState,
  vcpu: VcpuState,
  vm: number,
  status: string,
  exit: L2ExitInfo,
): "l1" | "td-exit" {
  if (perVmControls(ctx.spec, vcpu, "L2_DEBUG_CTLS", vm).TD_EXIT_ON_L2_TO_L1 === 1n) {
    return tdExitFromL2(ctx, td, vcpu, vm, "TDX_TD_EXIT_ON_L2_TO_L1", exit);
  }
  storeGuestState(ctx, vcpu, vm);
  completeToL1(ctx, vcpu, status, exit);
  return "l1";
}

/** The L2 VM's TDG.VP.VMCALL, as the module's TDCALL dispatcher runs it for L2. */
function l2Tdvmcall(
  ctx: LeafContext,
  regs: L2GuestRegs,
): "resume" | "td-exit" {
  const leaf = ctx.spec.tdcall("TDG.VP.VMCALL");
  // Reserved RAX bits or a version: the TDCALL fails and L2 goes on.
  if (regs.gprs.RAX !== BigInt(leaf.leaf)) {
    regs.gprs.RAX = completion(ctx.spec, "TDX_OPERAND_INVALID", "RAX").status;
    regs.rip += TDCALL_LENGTH;
    return "resume";
  }
  const call = new LeafContext(ctx.spec, ctx.cpu, ctx.lp, ctx.state, leaf, 0, regs.gprs);
  const done = tdgVpVmcall(call);
  call.releaseLocks();
  // The TD exit is trap-like: L2 continues after its TDCALL when the host resumes it.
  regs.rip += TDCALL_LENGTH;
  if (done.name !== "TDX_SUCCESS") {
    regs.gprs.RAX = done.status;
    return "resume";
  }
  return "td-exit";
}

/** A TD VMCS field of L1 (vcpu.fields), by its spec name. */
function l1Vmcs(ctx: LeafContext, vcpu: VcpuState, name: string): bigint {
  const cat = catalog(ctx.spec);
  return vcpu.fields.get(cat.elementId(cat.field("vcpu", name), 0)) ?? 0n;
}

const PIR_BYTES = 32;
/** Below this vector, posted requests do not count towards RVI (vectors 0-30 are exceptions). */
const MIN_POSTED_VECTOR = 31;

/**
 * td_l2_interrupt_exit: an external interrupt in L2 is the host's (a TD exit) unless it is
 * L1's posted-interrupt notification. Then the PID's requests are taken (ON and PIR
 * cleared) and, when the highest one outranks L1's processor priority, L2 exits to L1 with
 * TDX_L2_EXIT_PENDING_INTERRUPT; otherwise L2 resumes and L1 gets them later. L1's virtual
 * APIC is not modelled: its processor priority is taken as 0, and the requests themselves
 * are not kept, only that L1 now has one pending (its RVI above its priority): L1's next
 * TDG.VP.ENTER is TDX_PENDING_INTERRUPT until its software takes it, which a guest with
 * interrupts disabled (the model's guests run no interrupt handlers) never does.
 */
function interruptRoute(
  ctx: LeafContext,
  vcpu: VcpuState,
  exit: L2ExitInfo,
): "host" | "l1" | "resume" {
  const pin = decodeBits(
    ctx.spec.bitfield("PIN_BASED_VM_EXEC_CONTROL").fields,
    l1Vmcs(ctx, vcpu, "PIN_BASED_VM_EXEC_CONTROL"),
  ).fields;
  if (pin.PROCESS_POSTED_INTERRUPTS !== 1n) return "host";
  const vector = (exit.interruption ?? 0n) & 0xFFn;
  if (vector !== (l1Vmcs(ctx, vcpu, "POSTED_INTR_NV") & 0xFFFFn)) return "host";
  const pid = ctx.cpu.memory.withKeyId(l1Vmcs(ctx, vcpu, "POSTED_INTR_DESC_ADDR"), 0);
  const bytes = ctx.cpu.memory.read(pid, PIR_BYTES + 1);
  let rvi = 0;
  for (let v = PIR_BYTES * 8 - 1; v >= 0; v--) {
    if ((bytes[v >> 3] >> (v & 7)) & 1) {
      rvi = v;
      break;
    }
  }
  bytes.fill(0, 0, PIR_BYTES);
  bytes[PIR_BYTES] &= ~1; // ON
  ctx.cpu.memory.write(pid, bytes);
  if (rvi < MIN_POSTED_VECTOR) rvi = 0;
  if ((rvi & 0xF0) === 0) return "resume";
  vcpu.guestInterruptPending = true;
  return "l1";
}

/** Where one stop of the L2 VM goes. */
function dispatchStop(
  ctx: LeafContext,
  td: TdState,
  vcpu: VcpuState,
  vm: number,
  stop: L2Stop,
): "resume" | "l1" | "td-exit" {
  const regs = l2Of(vcpu).regs.get(vm)!;
  const exit: L2ExitInfo = stop.kind === "tdcall"
    ? { reason: "TDCALL", instruction: TDCALL_LENGTH << 32n }
    : stop.exit;
  if (perVmControls(ctx.spec, vcpu, "L2_DEBUG_CTLS", vm).TD_EXIT_ON_L2_VM_EXIT === 1n) {
    return tdExitFromL2(ctx, td, vcpu, vm, "TDX_TD_EXIT_ON_L2_VM_EXIT", exit);
  }
  if (stop.kind === "tdcall") {
    const vmcall = BigInt(ctx.spec.tdcall("TDG.VP.VMCALL").leaf);
    const enabled = perVmControls(ctx.spec, vcpu, "L2_CTLS", vm).ENABLE_TDVMCALL === 1n;
    if (enabled && (regs.gprs.RAX & 0xFFFFn) === vmcall) {
      const r = l2Tdvmcall(ctx, regs);
      if (r === "td-exit") l2Of(vcpu).lastExit = exit;
      return r;
    }
    return toL1(ctx, td, vcpu, vm, "TDX_SUCCESS", exit);
  }
  if (exit.reason === "INTERRUPT") {
    const route = interruptRoute(ctx, vcpu, exit);
    if (route === "resume") return "resume";
    if (route === "l1") return toL1(ctx, td, vcpu, vm, "TDX_L2_EXIT_PENDING_INTERRUPT", exit);
  }
  if (TO_HOST.has(exit.reason)) return tdExitFromL2(ctx, td, vcpu, vm, "TDX_SUCCESS", exit);
  if (TO_L1.has(exit.reason)) return toL1(ctx, td, vcpu, vm, "TDX_SUCCESS", exit);
  throw new Error(`the model does not handle L2 VM exit ${exit.reason}`);
}

/**
 * Runs the current L2 VM until its exit leaves it: "l1" when L1 now holds TDG.VP.ENTER's
 * completion, "td-exit" when vcpu.pendingExit holds the TD exit for the host.
 */
export function runL2(ctx: LeafContext, td: TdState, vcpu: VcpuState): "l1" | "td-exit" {
  const l2 = l2Of(vcpu);
  const vm = vcpu.currVm!;
  for (let i = 0; i < MAX_RESUMES; i++) {
    const entry = {
      vm,
      vcpuIndex: vcpu.index,
      regs: l2.regs.get(vm)!,
      launched: l2.launched.has(vm),
    };
    const stop = runL2Program(ctx.state, td.tdr, entry);
    l2.launched.add(vm);
    const r = dispatchStop(ctx, td, vcpu, vm, stop);
    if (r !== "resume") return r;
  }
  throw new Error(`L2 VM ${vm} never left the module`);
}

/**
 * A soft-translated GPA of the current L2 VM no longer translates: instead of entering, an
 * EPT-violation TD exit (a write access) at its page, the VM unchanged.
 */
function emulatedEptViolation(ctx: LeafContext, vcpu: VcpuState, gpa: bigint): GuestRunResult {
  vcpu.pendingExit = {
    kind: "async",
    status: "TDX_SUCCESS",
    reason: "EPT_VIOLATION",
    qualification: encodeBits(ctx.spec.bitfield("VMX_EPT_VIOLATION_QUALIFICATION").fields, {
      DATA_WRITE: 1n,
    }),
    gpa: gpa & ~0xFFFn,
  };
  return { kind: "tdvmcall" };
}

/** RESUME_L1 (set_l2_exit_host_routing): sticky until L1 is actually entered. */
export function setHostRouting(vcpu: VcpuState): void {
  const l2 = l2Of(vcpu);
  l2.hostRouted ??= vcpu.lastTdExit === "LAST_EXIT_TDVMCALL" ? "tdvmcall" : "async";
}

/**
 * TDH.VP.ENTER of a vCPU whose last TD exit came from an L2 VM: with host routing, L1
 * resumes as if the VM had exited to it (after an L2 TDG.VP.VMCALL, once its outputs are
 * in the VM's buffer); otherwise the L2 VM resumes. What the CPU reports back to
 * TDH.VP.ENTER: the L1 guest's own run, or a stop with the TD exit pending.
 */
export function enterFromL2(ctx: LeafContext, td: TdState, vcpu: VcpuState): GuestRunResult {
  const l2 = l2Of(vcpu);
  const vm = vcpu.currVm!;
  let toL1 = false;
  if (l2.hostRouted) {
    if (l2.hostRouted === "tdvmcall") {
      // TDG.VP.VMCALL's outputs go to the buffer first; the routing stays until they can.
      const state = guestStatePa(ctx, td, vcpu, vm);
      if (!state.ok) return emulatedEptViolation(ctx, vcpu, state.gpa);
      storeGuestState(ctx, vcpu, vm);
    }
    const status = l2.hostRouted === "async"
      ? "TDX_L2_EXIT_HOST_ROUTED_ASYNC"
      : "TDX_L2_EXIT_HOST_ROUTED_TDVMCALL";
    completeToL1(ctx, vcpu, status, {
      ...(l2.lastExit ?? { reason: "INTERRUPT" }),
      extQualification: 0n,
    });
    l2.hostRouted = undefined;
    toL1 = true;
  } else {
    const t = translateL2Gpas(ctx, td, vcpu, vm);
    if (!t.ok) return emulatedEptViolation(ctx, vcpu, t.gpa);
    toL1 = runL2(ctx, td, vcpu) === "l1";
  }
  if (toL1) return ctx.cpu.vmEnter(ctx.lp, vcpu.tdvpr, td.tdr, vcpu.index);
  return { kind: "tdvmcall" };
}
