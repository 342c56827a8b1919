// The software a TD runs, as a GuestProgram: the boot vCPU boots the guest kernel and
// then runs a user script in a process; other vCPUs have nothing to do and halt.
// The caller gets the kernel and the outcome back through `GuestRun`.
import type { Spec } from "../spec/mod.ts";
import type { GuestPort, GuestProgram } from "../cpu/guest_execution.ts";
import type { GuestMemory } from "./guest_memory.ts";
import { GuestKernel, type KernelOptions } from "./kernel.ts";
import { Process } from "./process.ts";

export type UserScript = (p: Process) => Generator<void, void, void>;

export interface GuestRun {
  kernel?: GuestKernel;
  /** The script ran to its end. */
  finished: boolean;
  /** What the guest threw (a kernel panic in the model), if anything. */
  error?: unknown;
}

export function tdxGuestProgram(
  spec: Spec,
  memory: GuestMemory,
  options: KernelOptions,
  script: UserScript,
  run: GuestRun = { finished: false },
): GuestProgram {
  return function* (port: GuestPort) {
    if (port.vcpuIndex !== 0) return;
    try {
      const kernel = yield* GuestKernel.boot(spec, port, memory, options);
      run.kernel = kernel;
      yield* script(new Process(kernel));
      run.finished = true;
    } catch (e) {
      run.error = e;
    }
  };
}
