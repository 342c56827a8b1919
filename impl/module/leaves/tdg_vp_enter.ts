// TDG.VP.ENTER: the L1 VMM enters one of its L2 VMs. Checks in the module's order: the
// guest-state buffer GPA (256-byte aligned, private), the VM index and reserved bits of
// RCX, the VM's virtual-APIC page set by L1, no virtual interrupt pending for L1. Then a
// debuggable TD's host may turn the entry into a TD exit (TDX_TD_EXIT_BEFORE_L2_ENTRY),
// the buffer and virtual-APIC GPAs are translated through the L1 Secure EPT (a failure is
// an EPT-violation TD exit), the L2 VM's registers are loaded from the buffer and the VM
// runs (l2_exit.ts). The leaf completes only when the VM exits to L1; a TD exit from L2
// leaves it pending until the host resumes L1. INVEPT_TYPE's flushes have no effect in a
// model without TLBs.
import type { LeafHandler } from "../leaf_context.ts";
import { completion, describeStatus } from "../completion.ts";
import { currentGuest, noCompletion } from "../guest_access.ts";
import { checkPrivateGpa, septGeometry } from "../sept.ts";
import { l2Of, perVmControls } from "../l2_state.ts";
import { l2VmOperand } from "../l2_vm_select.ts";
import { loadGuestState, runL2, translateL2Gpas } from "../l2_exit.ts";

export const tdgVpEnter: LeafHandler = (ctx) => {
  const g = currentGuest(ctx);
  const gpa = ctx.in("guest_state_gpa");
  const buffer = ctx.leaf.memory_operands!.find((m) => m.name === "l2_enter_guest_state")!;
  if (
    gpa % BigInt(buffer.alignment) !== 0n || !checkPrivateGpa(septGeometry(ctx.spec, g.td), gpa)
  ) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("guest_state_gpa"));
  }
  const sel = l2VmOperand(ctx, g.td, "vm_and_flags");
  if (!sel) return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("vm_and_flags"));
  const vm = sel.vm;
  const l2 = l2Of(g.vcpu);
  if (!l2.vapicGpa.has(vm)) return ctx.status("TDX_OPERAND_INVALID", "L2_VAPIC_GPA");
  if (g.vcpu.guestInterruptPending) return ctx.status("TDX_PENDING_INTERRUPT");

  if (perVmControls(ctx.spec, g.vcpu, "L2_DEBUG_CTLS", vm).TD_EXIT_ON_L1_TO_L2 === 1n) {
    // An exit with no VM exit information; L1 re-executes TDG.VP.ENTER when resumed.
    g.vcpu.pendingExit = {
      kind: "async",
      status: "TDX_TD_EXIT_BEFORE_L2_ENTRY",
      reason: "EXCEPTION_OR_NMI",
    };
    ctx.cpu.requestTdExit(ctx.lp);
    return noCompletion(ctx);
  }
  if (l2.guestStateGpa.get(vm) !== gpa) {
    l2.guestStateGpa.set(vm, gpa);
    l2.stateHpa.delete(vm);
  }
  const t = translateL2Gpas(ctx, g.td, g.vcpu, vm);
  if (!t.ok) {
    g.vcpu.pendingExit = {
      kind: "async",
      status: "TDX_SUCCESS",
      reason: "EPT_VIOLATION",
      gpa: t.gpa & ~0xFFFn,
    };
    ctx.cpu.requestTdExit(ctx.lp);
    return noCompletion(ctx);
  }

  g.vcpu.currVm = vm;
  l2.l1Regs = ctx.regs;
  l2.regs.set(vm, loadGuestState(ctx, t.statePa));
  if (runL2(ctx, g.td, g.vcpu) === "td-exit") return noCompletion(ctx);
  // L1's registers already hold the exit information; RAX is the completion.
  const { name, detail } = describeStatus(ctx.spec, ctx.regs.RAX);
  return { ...completion(ctx.spec, name!, detail), status: ctx.regs.RAX };
};
