// The whole reference stack for one TD, wired together: a CPU with the TDX module
// brought up to SYS_READY, KVM opened on it, the launcher building the TD from a TDVF
// image, and the guest kernel with the tdx_guest driver running a user script inside.
// Tools and end-to-end tests start here.
import { type Spec, theSpec } from "../spec/mod.ts";
import { Platform } from "../module/testing/fixture.ts";
import { openDevKvm } from "../kvm/mod.ts";
import { type LaunchedTd, type LaunchOptions, launchTd } from "../vmm/launcher.ts";
import { type RunReport, runTd } from "../vmm/run_loop.ts";
import type { TdvfFirmware } from "../vmm/tdvf.ts";
import type { VmmResult } from "../vmm/vmm_error.ts";
import { type GuestRun, tdxGuestProgram, type UserScript } from "../guest/tdx_guest_program.ts";
import type { QuoteWait } from "../guest/tdx_guest.ts";
import { TdGuestMemory } from "./td_guest_memory.ts";

/** Host RAM KVM may allocate from: guest RAM, firmware and the VMM's buffers fit easily. */
const HOST_MEMORY = 160n << 20n;

export interface TdSessionOptions extends Omit<LaunchOptions, "program"> {
  quoteWait?: QuoteWait;
}

export interface TdSession {
  platform: Platform;
  td: LaunchedTd;
  run: RunReport;
  guest: GuestRun;
}

export function bringUpHost(): { platform: Platform; kvm: ReturnType<typeof openDevKvm> } {
  const platform = new Platform();
  platform.readyPlatform();
  const base = platform.allocRange(HOST_MEMORY, 4096n);
  const kvm = openDevKvm(platform.cpu, { hostMemory: [{ base, size: HOST_MEMORY }] });
  return { platform, kvm };
}

/** Builds the TD, runs `script` in its guest until the script ends, and tears nothing down. */
export function runTdSession(
  firmware: TdvfFirmware,
  script: UserScript,
  options: TdSessionOptions = {},
  spec: Spec = theSpec(),
): VmmResult<TdSession> {
  const { platform, kvm } = bringUpHost();
  const guest: GuestRun = { finished: false };
  const launched = launchTd(spec, kvm, firmware, {
    ...options,
    program: ({ vm, memory, hobAddress }) => {
      const mem = new TdGuestMemory(spec, platform.cpu, platform.module.state, vm);
      mem.memory = memory;
      return tdxGuestProgram(
        spec,
        mem,
        { hobAddress, quoteWait: options.quoteWait },
        script,
        guest,
      );
    },
  });
  if (!launched.ok) return launched;
  const run = runTd(launched.value);
  if (!run.ok) return run;
  if (guest.error) {
    return {
      ok: false,
      error: { step: "guest", message: `the guest failed: ${(guest.error as Error).message}` },
    };
  }
  return { ok: true, value: { platform, td: launched.value, run: run.value, guest } };
}
