// /dev/tdx_guest: a misc device whose only operation is the TDX_CMD_GET_REPORT0
// ioctl. Its argument is a user pointer to a tdx_report_req: REPORTDATA is copied in,
// the TDREPORT copied back out. The device has no read or write handler.
import type { Spec } from "../spec/mod.ts";
import { parseHex } from "../spec/hex.ts";
import { err, ok, type SysResult } from "./errno.ts";
import type { Task, TdxGuestDriver } from "./tdx_guest.ts";
import type { UserMemory } from "./user_memory.ts";

export class TdxGuestDevice {
  readonly path: string;
  private readonly getReport0: bigint;
  private readonly reportdata: { offset: number; size: number };
  private readonly tdreport: { offset: number; size: number };

  constructor(spec: Spec, private readonly driver: TdxGuestDriver) {
    this.path = spec.guestInterface("dev.tdx_guest").path;
    const ioctl = spec.ioctl("TDX_CMD_GET_REPORT0");
    this.getReport0 = parseHex(ioctl.number);
    const req = spec.struct(ioctl.argument.struct!);
    const field = (name: string) => {
      const f = req.fields.find((x) => x.name === name)!;
      return { offset: f.offset!, size: f.size! };
    };
    this.reportdata = field("reportdata");
    this.tdreport = field("tdreport");
  }

  ioctl(task: Task, user: UserMemory, request: bigint, arg: bigint): SysResult<number> {
    if (request !== this.getReport0) return err("ENOTTY");
    const r = this.driver.doReport(
      task,
      () => user.copyFrom(arg + BigInt(this.reportdata.offset), this.reportdata.size),
      (tdreport) => user.copyTo(arg + BigInt(this.tdreport.offset), tdreport),
    );
    return r.ok ? ok(0) : r;
  }
}
