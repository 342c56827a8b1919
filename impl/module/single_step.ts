// The single-step defence: a host that interrupts a TD vCPU right after entering it, again
// and again, could watch the guest one instruction at a time. So on an interrupt-type VM
// exit (external interrupt, MTF, INIT, an SMI that is not an MSMI; an NMI too, which
// arrives as an exception exit with vector 2) the module looks at how far the guest got
// since the TD entry: if its RIP moved by at most twice the longest instruction and fewer
// than STEPPING_TSC_THRESHOLD TSC ticks passed, it single-steps the guest itself for a
// random number of instructions (with interrupts held off) before the host sees the exit.
// Stepping re-injects the interrupt as a self-IPI, which needs the LP's local APIC: with
// it disabled the module cannot step safely and ends the TD instead.
import { decodeBits } from "../spec/bits.ts";
import type { Spec } from "../spec/mod.ts";
import { tdxLimit } from "./td_limits.ts";

/** What the module knows at the VM exit about the guest's run since the TD entry. */
export interface GuestProgress {
  /** Bytes the guest RIP moved (either way) since the TD entry. */
  ripAdvance: bigint;
  /** TSC ticks on the LP between the TD entry and the VM exit. */
  tscDelta: bigint;
  /** The LP's IA32_APIC_BASE at the VM exit. */
  apicBase: bigint;
}

/**
 * `continue`: the exit goes on to its ordinary handling; `wrong-apic-mode`: the TD must be
 * ended (TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE); `stepping`: the module would start stepping
 * mode and resume the guest.
 */
export type SteppingVerdict = "continue" | "wrong-apic-mode" | "stepping";

/** Interrupt-type exits, the ones a host can aim at a vCPU to stop it where it likes. */
function interruptType(spec: Spec, reason: string, qualification: bigint): boolean {
  switch (reason) {
    case "INTERRUPT":
    case "MTF":
    case "INIT_EVENT":
      return true;
    case "SMI_OTHER_EVENT":
      return decodeBits(spec.bitfield("VMX_EXIT_QUALIFICATION_SMI").fields, qualification).fields
        .MSMI === 0n;
    default:
      // An NMI exit needs the exit interruption information, which this path is not given.
      return false;
  }
}

/**
 * The verdict for a VM exit with `reason` (a VMX_EXIT_REASON name), for a vCPU not already
 * in stepping mode (the model never enters it). No `progress` means the guest progressed
 * far enough that the defence does not look.
 */
export function steppingVerdict(
  spec: Spec,
  reason: string,
  qualification: bigint,
  progress?: GuestProgress,
): SteppingVerdict {
  if (!progress || !interruptType(spec, reason, qualification)) return "continue";
  const maxRip = 2n * tdxLimit(spec, "INTEL64_MAX_INST_LEN");
  if (
    progress.ripAdvance > maxRip || progress.tscDelta > tdxLimit(spec, "STEPPING_TSC_THRESHOLD")
  ) {
    return "continue";
  }
  const apic = decodeBits(spec.bitfield("IA32_APIC_BASE").fields, progress.apicBase).fields;
  return apic.EN === 0n ? "wrong-apic-mode" : "stepping";
}
