// What an L2 VM's software does. The model runs no x86 code: an L2 VM's guest is a
// TypeScript function the module calls each time it enters the VM, which returns how the
// VM stopped - a VM exit with its exit information, or a TDCALL with the registers
// it left in its GPRs. An L2 VM with no program keeps running until the host takes the
// logical processor back: an external-interrupt VM exit.
import type { ModuleState } from "./state.ts";
import type { L2ExitInfo, L2GuestRegs } from "./l2_state.ts";

export interface L2Entry {
  vm: number;
  vcpuIndex: number;
  /** The VM's live guest state: the program may change its registers. */
  regs: L2GuestRegs;
  /** VMRESUME rather than VMLAUNCH. */
  launched: boolean;
}

export type L2Stop =
  /** A VM exit (a VMX_EXIT_REASON name and its exit information). */
  | { kind: "vm-exit"; exit: L2ExitInfo }
  /** TDCALL with the leaf in regs.gprs.RAX. */
  | { kind: "tdcall" };

export type L2Program = (entry: L2Entry) => L2Stop;

const programs = new WeakMap<ModuleState, Map<string, L2Program>>();

const key = (tdr: bigint, vm: number) => `${tdr.toString(16)}:${vm}`;

/** Installs the software of L2 VM `vm` of the TD at `tdr` (every vCPU runs it). */
export function attachL2Program(
  state: ModuleState,
  tdr: bigint,
  vm: number,
  program: L2Program,
): void {
  let m = programs.get(state);
  if (!m) programs.set(state, m = new Map());
  m.set(key(tdr, vm), program);
}

const IDLE: L2Stop = { kind: "vm-exit", exit: { reason: "INTERRUPT" } };

/** Runs the VM until it stops. */
export function runL2Program(state: ModuleState, tdr: bigint, entry: L2Entry): L2Stop {
  const program = programs.get(state)?.get(key(tdr, entry.vm));
  return program ? program(entry) : IDLE;
}
