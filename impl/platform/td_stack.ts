// The whole reference stack for one TD, wired together: a CPU with the TDX module
// brought up to SYS_READY, KVM opened on it, the launcher building the TD from a TDVF
// image, and the guest kernel with the tdx_guest driver running a user script inside.
// Quotes come from the launcher's quote service (a QGS, asynchronously: runTdSessionAsync)
// or, with the module's Quoting extension up, from KVM in the kernel (TDH.QUOTE.GET and
// the DICE signer). Tools and end-to-end tests start here.
import { type Spec, theSpec } from "../spec/mod.ts";
import { Platform } from "../module/testing/fixture.ts";
import { type DevKvm, openDevKvm } from "../kvm/mod.ts";
import { readyWithQuoting } from "../module/testing/extension_steps.ts";
import type { QuoteSigner } from "../module/quote_signer.ts";
import { macMatches } from "../module/report.ts";
import { type DiceModuleSigner, diceModuleSigner } from "../attest/dice/module_signer.ts";
import type { DiceQuoteRequest } from "../attest/dice/dice_quote_generate.ts";
import { type LaunchedTd, type LaunchOptions, launchTd } from "../vmm/launcher.ts";
import { type RunReport, runTd, runTdAsync } from "../vmm/run_loop.ts";
import type { TdvfFirmware } from "../vmm/tdvf.ts";
import type { VmmResult } from "../vmm/vmm_error.ts";
import { type GuestRun, tdxGuestProgram, type UserScript } from "../guest/tdx_guest_program.ts";
import type { QuoteWait } from "../guest/tdx_guest.ts";
import { TdGuestMemory } from "./td_guest_memory.ts";

/** Host RAM KVM may allocate from: guest RAM, firmware and the VMM's buffers fit easily. */
const HOST_MEMORY = 160n << 20n;

export interface HostOptions {
  /**
   * Bring the module up with the Quoting extension (TDH.SYS.CONFIG with the add-on,
   * TDH.EXT.MEM.ADD, TDH.EXT.INIT, TDH.QUOTE.INIT); KVM then answers GetQuote in the
   * kernel with TDH.QUOTE.GET. Its quotes are DICE quotes signed by the test DICE PKI of
   * `diceSeed` (checking each TDREPORT's MAC with the module's key), or come from `signer`.
   */
  kernelQuoting?: { diceSeed: Uint8Array; request?: DiceQuoteRequest } | { signer: QuoteSigner };
}

export interface Host {
  platform: Platform;
  kvm: DevKvm;
  /** The module's DICE signer, with kernelQuoting.diceSeed (its PKI is the verifier's root). */
  diceSigner?: DiceModuleSigner;
}

/** The DICE signer for the platform's module: reports are checked with its current MAC key. */
function diceSignerFor(
  platform: Platform,
  seed: Uint8Array,
  request?: DiceQuoteRequest,
): DiceModuleSigner {
  const spec = platform.spec;
  const mac = spec.struct("TDREPORT_STRUCT").fields.find((f) => f.name === "report_mac_struct")!;
  const size = spec.struct("REPORTMACSTRUCT").size as number;
  return diceModuleSigner(spec, {
    seed,
    request,
    checkReport: (r) =>
      r.length >= mac.offset! + size &&
      macMatches(
        spec,
        platform.module.state.reportMacKey,
        r.subarray(mac.offset!, mac.offset! + size),
      ),
  });
}

export interface TdSessionOptions extends Omit<LaunchOptions, "program"> {
  quoteWait?: QuoteWait;
  host?: HostOptions;
  /** Asynchronous runs: longest a halted guest waits for the quote service per tick. */
  tickMs?: number;
}

export interface TdSession extends Host {
  td: LaunchedTd;
  run: RunReport;
  guest: GuestRun;
}

export function bringUpHost(options: HostOptions = {}): Host {
  const platform = new Platform();
  const q = options.kernelQuoting;
  let diceSigner: DiceModuleSigner | undefined;
  if (q) {
    if ("signer" in q) platform.module.state.quoteSigner = q.signer;
    else {platform.module.state.quoteSigner = diceSigner = diceSignerFor(
        platform,
        q.diceSeed,
        q.request,
      );}
    readyWithQuoting(platform);
  } else platform.readyPlatform();
  const base = platform.allocRange(HOST_MEMORY, 4096n);
  const kvm = openDevKvm(platform.cpu, { hostMemory: [{ base, size: HOST_MEMORY }] });
  return { platform, kvm, diceSigner };
}

type Prepared = Omit<TdSession, "run">;

function prepare(
  firmware: TdvfFirmware,
  script: UserScript,
  options: TdSessionOptions,
  spec: Spec,
): VmmResult<Prepared> {
  const host = bringUpHost(options.host);
  const { platform, kvm } = host;
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
  return { ok: true, value: { ...host, td: launched.value, guest } };
}

function finish(p: Prepared, run: VmmResult<RunReport>): VmmResult<TdSession> {
  if (!run.ok) return run;
  if (p.guest.error) {
    return {
      ok: false,
      error: { step: "guest", message: `the guest failed: ${(p.guest.error as Error).message}` },
    };
  }
  return { ok: true, value: { ...p, run: run.value } };
}

/** Builds the TD, runs `script` in its guest until the script ends, and tears nothing down. */
export function runTdSession(
  firmware: TdvfFirmware,
  script: UserScript,
  options: TdSessionOptions = {},
  spec: Spec = theSpec(),
): VmmResult<TdSession> {
  const p = prepare(firmware, script, options, spec);
  return p.ok ? finish(p.value, runTd(p.value.td)) : p;
}

/** runTdSession for an asynchronous quote service (a QGS over a socket). */
export async function runTdSessionAsync(
  firmware: TdvfFirmware,
  script: UserScript,
  options: TdSessionOptions = {},
  spec: Spec = theSpec(),
): Promise<VmmResult<TdSession>> {
  const p = prepare(firmware, script, options, spec);
  if (!p.ok) return p;
  return finish(p.value, await runTdAsync(p.value.td, { tickMs: options.tickMs }));
}
