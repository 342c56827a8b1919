// Running guest code. The model cannot execute x86, so a TD's software (firmware,
// kernel, driver) is TypeScript: a generator that runs on a vCPU and issues TDCALLs
// through its port. TDG.VP.VMCALL exits to the host: the module asks the CPU for a
// TD exit, the guest generator yields, and the next VM entry resumes it with the
// registers the host answered with.
import type { InstructionOutcome } from "./cpu.ts";
import type { Registers } from "./registers.ts";

export interface GuestPort {
  readonly lpId: number;
  readonly vcpuIndex: number;
  /** TDCALL with `regs` (RAX holds the leaf); the module reads and writes them. */
  tdcall(regs: Registers): InstructionOutcome;
  /**
   * The CPU leaves the guest with a VM exit the guest did not request (a triple fault, a
   * notification, an SMI); on success the guest must now yield. An error string when the
   * module cannot take that exit.
   */
  vmExit(exitInfo: bigint, qualification: bigint, ripAdvance?: bigint): string | undefined;
  /** True after a TDCALL that asked for a TD exit (TDG.VP.VMCALL): the guest must now yield. */
  readonly exitRequested: boolean;
}

/** The guest's software on one vCPU. It yields exactly when `port.exitRequested` is true. */
export type GuestProgram = (port: GuestPort) => Generator<void, void, void>;

export type GuestRunResult =
  /** The guest executed TDG.VP.VMCALL and waits for the host. */
  | { kind: "tdvmcall" }
  /** The guest's program returned: the vCPU halts for good. */
  | { kind: "halted" };
