// VM exits the CPU takes out of a running TD for events the guest did not ask for (a
// triple fault, a notification, an SMI). The module does not
// resolve them inside the TD: it reports them to the host as an asynchronous TD exit
// whose class (the TDH.VP.ENTER status) depends on the event, and for exits a production
// TD should never cause, on whether the TD is debuggable.
import { decodeBits } from "../spec/bits.ts";
import type { Spec } from "../spec/mod.ts";
import type { PendingAsyncExit, TdState } from "./state.ts";
import { type GuestProgress, steppingVerdict } from "./single_step.ts";

/** The exit reasons this path classifies; others are resolved where they happen. */
const HANDLED = new Set([
  "TRIPLE_FAULT",
  "NOTIFICATION",
  "SMI_OTHER_EVENT",
  "INTERRUPT",
  "C_STATE_SMI",
  // Exits the module never enables for a production TD: reaching one means the guest's
  // context cannot be trusted, unless the TD is debuggable and the host asked for them.
  // (MSR_READ is not one: the module resolves an RDMSR inside the TD, emulating it or
  // injecting #GP or #VE, and never makes a TD exit of it.)
  "INVLPG_INSTRUCTION",
  "INTERRUPT_WINDOW",
  "RDRAND_INSTRUCTION",
  "INVPCID_INSTRUCTION",
]);

/** Prefix of the error for a case that needs stepping mode, which the model does not have. */
export const STEPPING_ERROR = "rip_advance: ";

/**
 * The asynchronous TD exit for a CPU VM exit with `exitInfo` (bitfield VMX_EXIT_INFO) and
 * `qualification`, or an error naming what the model cannot take. `progress`: how far the
 * guest got since the TD entry, for the single-step defence (single_step.ts).
 */
export function classifyVmExit(
  spec: Spec,
  td: TdState,
  exitInfo: bigint,
  qualification: bigint,
  progress?: GuestProgress,
): { exit: Omit<PendingAsyncExit, "kind"> } | { error: string } {
  const info = decodeBits(spec.bitfield("VMX_EXIT_INFO").fields, exitInfo).fields;
  const reason = spec.enum("VMX_EXIT_REASON").values.find((v) => BigInt(v.value) === info.BASIC)
    ?.name;
  if (!reason || !HANDLED.has(reason)) {
    return { error: `VM exit reason ${reason ?? info.BASIC} is not an unrequested exit` };
  }
  // A failed VM entry is the module's own doing (it loads the guest state), not an event.
  if (info.FAILED_VMENTRY === 1n) return { error: "a failed VM entry is not a guest event" };
  // The single-step defence comes before the exit reason's own handling.
  switch (steppingVerdict(spec, reason, qualification, progress)) {
    case "wrong-apic-mode":
      return { exit: { status: "TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE", reason, qualification } };
    case "stepping":
      // The module would single-step the guest and resume it; the model cannot run guest
      // instructions one by one, so it refuses rather than answer wrongly.
      return { error: `${STEPPING_ERROR}stepping mode is not modelled` };
  }
  const debug = decodeBits(spec.bitfield("TD_ATTRIBUTES").fields, td.attributes).fields.DEBUG ===
    1n;
  const q = (layout: string) => decodeBits(spec.bitfield(layout).fields, qualification).fields;
  let status: string;
  switch (reason) {
    case "TRIPLE_FAULT":
      status = "TDX_NON_RECOVERABLE_VCPU";
      break;
    case "NOTIFICATION":
      status = q("VMX_EXIT_QUALIFICATION_NOTIFICATION").VM_CONTEXT_INVALID === 1n
        ? "TDX_NON_RECOVERABLE_TD"
        : "TDX_SUCCESS";
      break;
    case "SMI_OTHER_EVENT":
      status = q("VMX_EXIT_QUALIFICATION_SMI").MSMI === 1n
        ? "TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE"
        : "TDX_SUCCESS";
      break;
    case "INTERRUPT":
    case "C_STATE_SMI":
      status = "TDX_SUCCESS";
      break;
    default:
      status = debug ? "TDX_SUCCESS" : "TDX_NON_RECOVERABLE_TD";
  }
  return { exit: { status, reason, qualification } };
}
