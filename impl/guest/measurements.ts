// The measurements/ sysfs group of the tdx_guest device (Linux's tsm-mr helper): one
// binary file per measurement register, named by the spec's guest_interface items.
// RTMRs are live and writable: reading one after an extend first refreshes every
// value with TDG.MR.REPORT; writing 48 bytes extends it. The other registers are
// read from the report buffer as the last refresh left it. Sysfs's own rules for
// binary files (clipping to the file size) apply before the driver sees a call.
import type { Spec } from "../spec/mod.ts";
import { err, type Errno, ok, type SysResult } from "./errno.ts";
import type { Task, TdxGuestDriver } from "./tdx_guest.ts";

export interface MeasurementFile {
  /** guest_interface item name, e.g. "tdx_guest.rtmr0". */
  item: string;
  path: string;
  size: number;
  /** TDINFO_STRUCT field holding the value. */
  tdinfoField: string;
  /** RTMR index for the writable, live registers. */
  rtmrIndex?: number;
}

/** The driver's registers in Linux's order and the TDINFO field each one shows. */
const REGISTERS: { item: string; tdinfoField: string; rtmrIndex?: number }[] = [
  { item: "tdx_guest.rtmr0", tdinfoField: "rtmr0", rtmrIndex: 0 },
  { item: "tdx_guest.rtmr1", tdinfoField: "rtmr1", rtmrIndex: 1 },
  { item: "tdx_guest.rtmr2", tdinfoField: "rtmr2", rtmrIndex: 2 },
  { item: "tdx_guest.rtmr3", tdinfoField: "rtmr3", rtmrIndex: 3 },
  { item: "tdx_guest.mrtd", tdinfoField: "mr_td" },
  { item: "tdx_guest.mrconfigid", tdinfoField: "mr_config_id" },
  { item: "tdx_guest.mrowner", tdinfoField: "mr_owner" },
  { item: "tdx_guest.mrownerconfig", tdinfoField: "mr_owner_config" },
];

export function measurementFiles(spec: Spec): MeasurementFile[] {
  return REGISTERS.map((r) => {
    const g = spec.guestInterface(r.item);
    return { ...r, path: g.path, size: g.max_size ?? 0 };
  });
}

export class Measurements {
  readonly files: MeasurementFile[];
  /** tsm-mr's in_sync: no extend since the last refresh. */
  private inSync = true;

  constructor(private readonly spec: Spec, private readonly driver: TdxGuestDriver) {
    this.files = measurementFiles(spec);
  }

  file(path: string): MeasurementFile | undefined {
    return this.files.find((f) => f.path === path);
  }

  writable(f: MeasurementFile): boolean {
    return this.spec.guestInterface(f.item).access === "rw";
  }

  read(task: Task, f: MeasurementFile, offset: number, count: number): SysResult<Uint8Array> {
    if (count === 0 || offset >= f.size) return ok(new Uint8Array(0));
    const n = Math.min(count, f.size - offset);
    if (task.signalPending) return err("EINTR");
    let failure: Errno | undefined;
    if (f.rtmrIndex !== undefined && !this.inSync) {
      const r = this.driver.doReport(task);
      this.inSync = r.ok;
      if (!r.ok) failure = r.errno;
    }
    if (failure) return err(failure);
    return ok(this.value(f).slice(offset, offset + n));
  }

  write(task: Task, f: MeasurementFile, offset: number, data: Uint8Array): SysResult<number> {
    if (offset >= f.size) return err("EFBIG");
    const n = Math.min(data.length, f.size - offset);
    if (n === 0) return ok(0);
    if (offset !== 0 || n !== f.size) return err("EINVAL");
    if (task.signalPending) return err("EINTR");
    const e = this.driver.doExtend(task, f.rtmrIndex!, data.subarray(0, n));
    if (e) return err(e);
    this.inSync = false;
    return ok(n);
  }

  /** The register's bytes in the report buffer right now. */
  private value(f: MeasurementFile): Uint8Array {
    const info = this.driver.decodeReport().td_info as Record<string, Uint8Array>;
    return info[f.tdinfoField];
  }
}
