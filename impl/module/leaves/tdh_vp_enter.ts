// TDH.VP.ENTER: runs a vCPU of a finalised TD on the calling LP until the next TD exit.
//
// Entry checks in the module's order, then: the host's answers to a pending
// TDG.VP.VMCALL go into the guest's selected registers (or, after a trap-like exit, the
// host's recoverability hint into the guest's TDCALL status), the vCPU becomes ACTIVE
// and the CPU runs the guest (Cpu.vmEnter). How the guest stopped decides the exit:
// - it asked for the host with TDG.VP.VMCALL: a synchronous exit (td_exit.ts);
// - a TDCALL or the CPU left an asynchronous exit on the vCPU: reported with its class;
// - it yielded with nothing pending: an external-interrupt exit (the host took the LP
//   back), after which it simply resumes;
// - its program returned: the vCPU can never run again. A TD's software cannot stop a
//   vCPU other than by shutting it down, so this is reported the way the module reports
//   a vCPU that shut down - a triple-fault exit, TDX_NON_RECOVERABLE_VCPU, vCPU DISABLED.
import { decodeBits } from "../../spec/bits.ts";
import type { LeafHandler } from "../leaf_context.ts";
import { lockKey } from "../locks.ts";
import { checkTdState } from "../td_gate.ts";
import { checkAndAssociateVcpu, explicitTdvpr, tdvpsComplete } from "../td_checks.ts";
import { lpMsr, tscAdjustConsistent, tscOf } from "../lp_msrs.ts";
import { enterEpoch, exitEpoch } from "../tlb_tracking.ts";
import { entryFilter, logExit } from "../zero_step.ts";
import { cpuidKey } from "../td_params.ts";
import { enterFromL2, setHostRouting } from "../l2_exit.ts";
import { noteEntryEpoch } from "../l2_state.ts";
import type { TdState, VcpuState } from "../state.ts";
import type { LeafContext } from "../leaf_context.ts";
import {
  asyncExit,
  eptViolationInfo,
  tdvmcallExit,
  tdvmcallReturn,
  withRecoverabilityHint,
} from "../td_exit.ts";

/** The TD's virtual CPUID enumerates MONITOR/MWAIT. */
function monitorMwait(ctx: LeafContext, td: TdState): boolean {
  const leaf = Number(ctx.spec.enumValue("CPUID_LEAF", "VERSION_INFO"));
  const v = td.cpuid?.get(cpuidKey(leaf, 0xFFFF_FFFF));
  if (!v) return false;
  return decodeBits(ctx.spec.bitfield("CPUID_01_ECX").fields, BigInt(v[2])).fields.MONITOR === 1n;
}

export const tdhVpEnter: LeafHandler = (ctx) => {
  const misc = ctx.cpu.msrs.decode("IA32_MISC_ENABLE", lpMsr(ctx, "IA32_MISC_ENABLE"));
  if (misc.LIMIT_CPUID_MAXVAL === 1n) return ctx.status("TDX_LIMIT_CPUID_MAXVAL_SET");
  const flags = ctx.inFields("vcpu_handle_and_flags");
  const operand = ctx.operandOf("vcpu_handle_and_flags");
  if (flags.reserved_0 !== 0n || flags.reserved_1 !== 0n) {
    return ctx.status("TDX_OPERAND_INVALID", operand);
  }
  const tdvpr = flags.tdvpr_pa << 12n;
  const r = explicitTdvpr(ctx, tdvpr, operand, "shared");
  if (r.fail) return r.fail;
  const { vcpu, td } = r.value;
  const bad = checkTdState(ctx, td, "shared");
  if (bad) return bad;
  if (!tdvpsComplete(ctx, td, vcpu)) return ctx.status("TDX_TDCX_NUM_INCORRECT");
  const a = checkAndAssociateVcpu(ctx, td, vcpu, false);
  if (a.fail) return a.fail;
  if (flags.host_recoverability_hint === 1n && vcpu.lastTdExit !== "LAST_EXIT_ASYNC_TRAP") {
    return ctx.status("TDX_OPERAND_INVALID", operand);
  }
  if (flags.resume_l1 === 1n && (vcpu.currVm ?? 0) === 0) {
    return ctx.status("TDX_OPERAND_INVALID", operand);
  }
  // Sticky: the next entry that gets this far resumes L1 (l2_exit.ts).
  if (flags.resume_l1 === 1n) setHostRouting(vcpu);
  if (!tscAdjustConsistent(ctx)) {
    return ctx.status("TDX_INCONSISTENT_MSR", ctx.cpu.msrs.index("IA32_TSC_ADJUST"));
  }
  if (tscOf(ctx) < (vcpu.lastExitTsc ?? 0n)) return ctx.status("TDX_TSC_ROLLBACK");
  if (monitorMwait(ctx, td) && misc.ENABLE_MONITOR_FSM !== 1n) {
    return ctx.status("TDX_INCORRECT_MSR_VALUE", ctx.cpu.msrs.index("IA32_MISC_ENABLE"));
  }
  // TLB tracking: entering counts this vCPU in the current epoch; TDH.MEM.TRACK holds
  // the epoch lock exclusively while it advances the epoch.
  const busy = ctx.lock(lockKey.tdEpoch(td.tdr), "shared", "TD_EPOCH");
  if (busy) return busy;
  const filter = entryFilter(ctx, td, vcpu);
  if (filter && "busy" in filter) return filter.busy;
  if (filter) {
    // The guest is not run: the host sees the same EPT violation again.
    return asyncExit(ctx, td, vcpu, {
      status: "TDX_SUCCESS",
      reason: "EPT_VIOLATION",
      gpa: filter.faultingGpa & ~0xFFFn,
    });
  }
  const epoch = enterEpoch(td);
  noteEntryEpoch(vcpu, epoch, a.value);
  ctx.state.locks.release(lockKey.tdEpoch(td.tdr), ctx.owner);
  // The operation-state lock is held only for the entry checks, not while the guest runs.
  ctx.state.locks.release(lockKey.tdcs(td.tdr), ctx.owner);

  const pending = vcpu.pendingExit;
  vcpu.pendingExit = undefined;
  if (vcpu.lastTdExit === "LAST_EXIT_TDVMCALL" && pending?.kind === "tdvmcall") {
    tdvmcallReturn(ctx, td, pending, ctx.regs);
  } else if (
    vcpu.lastTdExit === "LAST_EXIT_ASYNC_TRAP" && pending?.kind === "async" && pending.regs
  ) {
    pending.regs.RAX = withRecoverabilityHint(
      ctx,
      pending.regs.RAX,
      flags.host_recoverability_hint,
    );
  }

  vcpu.state = "running";
  ctx.state.lpCurrentVcpu.set(ctx.lp.id, vcpu.tdvpr);
  ctx.state.lpEntryTsc.set(ctx.lp.id, tscOf(ctx));
  let ran;
  try {
    // After a TD exit from an L2 VM, the module resumes that VM (or L1, host-routed).
    ran = (vcpu.currVm ?? 0) !== 0
      ? enterFromL2(ctx, td, vcpu)
      : ctx.cpu.vmEnter(ctx.lp, vcpu.tdvpr, td.tdr, vcpu.index);
  } finally {
    ctx.state.lpCurrentVcpu.delete(ctx.lp.id);
    exitEpoch(td, epoch);
  }
  vcpu.launched = true;
  vcpu.lastExitTsc = tscOf(ctx);

  if (ran.kind === "halted") {
    logExit(ctx, vcpu);
    ctx.cpu.discardGuest(vcpu.tdvpr);
    return asyncExit(ctx, td, vcpu, { status: "TDX_NON_RECOVERABLE_VCPU", reason: "TRIPLE_FAULT" });
  }
  // What the guest's TDCALLs (or the CPU) left while it ran.
  const exit: VcpuState["pendingExit"] = vcpu.pendingExit as VcpuState["pendingExit"];
  logExit(ctx, vcpu, exit?.kind === "async" ? exit : undefined);
  switch (exit?.kind) {
    case "tdvmcall":
      return tdvmcallExit(ctx, td, vcpu, exit);
    case "ept-violation":
      vcpu.pendingExit = undefined;
      return asyncExit(ctx, td, vcpu, eptViolationInfo(ctx, exit));
    case "async": {
      const done = asyncExit(ctx, td, vcpu, exit);
      // A trap-like exit keeps the interrupted TDCALL's registers for the next entry.
      if (vcpu.lastTdExit !== "LAST_EXIT_ASYNC_TRAP") vcpu.pendingExit = undefined;
      return done;
    }
    default:
      return asyncExit(ctx, td, vcpu, { status: "TDX_SUCCESS", reason: "INTERRUPT" });
  }
};
