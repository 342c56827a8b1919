// The guest kernel as far as TDX attestation needs one: it reads the memory map
// from the TD HOB, loads the tdx_guest driver (device node, measurement files,
// configfs-tsm provider) and serves system calls to user processes (process.ts).
import type { Spec } from "../spec/mod.ts";
import type { GuestPort } from "../cpu/guest_execution.ts";
import { readBootInfo } from "./boot_info.ts";
import { type Errno } from "./errno.ts";
import { type GuestMemory, RangeAllocator } from "./guest_memory.ts";
import { TdxGuestDevice } from "./dev_tdx_guest.ts";
import { Measurements } from "./measurements.ts";
import { type KernelServices, type QuoteWait, TdxGuestDriver } from "./tdx_guest.ts";
import { TsmReportSubsystem } from "./tsm_report.ts";

export interface KernelOptions {
  /** GPA of the TD HOB list (the RCX value TDVF starts with). */
  hobAddress: bigint;
  quoteWait?: QuoteWait;
}

export class GuestKernel {
  readonly services: KernelServices;
  readonly tsm: TsmReportSubsystem;
  driver?: TdxGuestDriver;
  device?: TdxGuestDevice;
  measurements?: Measurements;
  /** Why the tdx_guest driver did not load, if it did not. */
  driverError?: Errno;

  private constructor(readonly spec: Spec, services: KernelServices) {
    this.services = services;
    this.tsm = new TsmReportSubsystem(spec);
  }

  /** Boots: memory map from the HOB, then the driver's init (which may exit to the host). */
  static *boot(
    spec: Spec,
    port: GuestPort,
    memory: GuestMemory,
    options: KernelOptions,
  ): Generator<void, GuestKernel, void> {
    const boot = readBootInfo(spec, memory, options.hobAddress);
    // The HOB list itself stays in use; everything else the VMM added is free.
    const usable = boot.added.filter((r) =>
      !(options.hobAddress >= r.address && options.hobAddress < r.address + r.length)
    );
    const k = new GuestKernel(spec, {
      spec,
      port,
      memory,
      privateMemory: new RangeAllocator(usable),
      // Shared buffers go above the first 16 MiB of not-yet-accepted RAM.
      sharedSpace: new RangeAllocator(
        boot.unaccepted.map((r) => ({
          address: r.address < 0x100_0000n ? 0x100_0000n : r.address,
          length: r.address < 0x100_0000n ? r.length - (0x100_0000n - r.address) : r.length,
        })).filter((r) => r.length > 0n),
      ),
    });
    yield* k.loadTdxGuest(options.quoteWait);
    return k;
  }

  /** tdx_guest_init: on failure nothing is registered (no device, no files). */
  *loadTdxGuest(wait?: QuoteWait): Generator<void, void, void> {
    const r = yield* TdxGuestDriver.load(this.services, wait);
    if (!r.ok) {
      this.driverError = r.errno;
      return;
    }
    const driver = r.value;
    this.driver = driver;
    this.device = new TdxGuestDevice(this.spec, driver);
    this.measurements = new Measurements(this.spec, driver);
    this.tsm.register({
      name: "tdx_guest",
      visible: new Set(["generation", "provider", "inblob", "outblob"]),
      reportNew: (task, inblob) => driver.getQuote(task, inblob),
    });
  }
}
