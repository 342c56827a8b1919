// Test support: guest software as the CPU model runs it - a generator that issues
// TDG.VP.VMCALL with GHCI registers and yields while the host handles the TD exit.
import type { GuestPort, GuestProgram } from "../../cpu/guest_execution.ts";
import { leafRegisters } from "../../cpu/leaf_call.ts";
import type { Registers } from "../../cpu/registers.ts";
import type { Spec } from "../../spec/mod.ts";
import { encodeBits } from "../../spec/bits.ts";

/** RDX, RBX, RSI, RDI and R8..R15 exposed to the host (RBP stays private under NO_RBP_MOD). */
function gprSelect(spec: Spec): bigint {
  const control = spec.tdcall("TDG.VP.VMCALL").inputs.find((i) => i.name === "control")!;
  const regs = [2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  return encodeBits(control.fields!, {
    GPR_SELECT: regs.reduce((m, r) => m | (1n << BigInt(r)), 0n),
  });
}

/** One TDVMCALL: the registers the guest sees when the host resumes it. */
export function* tdvmcall(
  spec: Spec,
  port: GuestPort,
  values: Partial<Registers>,
): Generator<void, Registers, void> {
  const regs = leafRegisters(spec, spec.tdcall("TDG.VP.VMCALL"), { control: gprSelect(spec) });
  Object.assign(regs, values);
  port.tdcall(regs);
  if (port.exitRequested) yield;
  return regs;
}

/** A guest that makes the given TDVMCALLs in order and records what it got back. */
export function scriptedGuest(
  spec: Spec,
  calls: Partial<Registers>[],
  seen: Registers[],
  after?: (port: GuestPort) => Generator<void, void, void>,
): GuestProgram {
  return function* (port) {
    for (const c of calls) seen.push(yield* tdvmcall(spec, port, c));
    if (after) yield* after(port);
  };
}
