// deno task td --firmware IMAGE --report-data HEX [--rtmr-extend INDEX:HEX ...] [--json]
// Boots a TD from a TDVF image on the reference stack. Inside, the guest extends the
// given RTMRs by writing 48 bytes to measurements/rtmrN:sha384, then asks
// /dev/tdx_guest for a TDREPORT over REPORTDATA (TDX_CMD_GET_REPORT0). Prints the
// TDREPORT in hex and field by field.
import { type Spec, theSpec } from "../impl/spec/mod.ts";
import { StructCodec } from "../impl/spec/codec.ts";
import { bytesToHex, parseHex } from "../impl/spec/hex.ts";
import type { TdvfFirmware } from "../impl/vmm/tdvf.ts";
import type { Process } from "../impl/guest/process.ts";
import { runTdSession } from "../impl/platform/td_stack.ts";
import {
  EXIT_BAD_INPUT,
  EXIT_FAILED,
  flattenStruct,
  hexArg,
  InputError,
  loadFirmware,
} from "./td_tool_common.ts";

const USAGE = "usage: deno task td --firmware IMAGE --report-data HEX " +
  "[--rtmr-extend INDEX:HEX ...] [--json]\n" +
  "  boots a TD; the guest extends RTMRs through sysfs and gets a TDREPORT from /dev/tdx_guest\n" +
  "  --report-data  64 bytes (128 hex digits) of REPORTDATA\n" +
  "  --rtmr-extend  RTMR index 0-3 and 48 bytes (96 hex digits) to extend it with; repeatable";

export interface TdRequest {
  firmware: string;
  reportData: Uint8Array;
  extends: { index: number; data: Uint8Array }[];
  json: boolean;
}

export function parseArgs(spec: Spec, args: string[]): TdRequest | "help" {
  let firmware: string | undefined;
  let reportData: Uint8Array | undefined;
  const ext: TdRequest["extends"] = [];
  let json = false;
  const rtmrFiles = [0, 1, 2, 3].filter((i) => spec.guestInterfaces.has(`tdx_guest.rtmr${i}`));
  const reportDataSize = spec.struct("tdx_report_req").fields.find((f) => f.name === "reportdata")!
    .size!;
  const rtmrSize = spec.guestInterface("tdx_guest.rtmr0").max_size!;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--help" || a === "-h") return "help";
    else if (a === "--json") json = true;
    else if (a === "--firmware") {
      firmware = args[++i];
      if (firmware === undefined) throw new InputError("--firmware needs a value");
    } else if (a === "--report-data") {
      reportData = hexArg("--report-data", args[++i], reportDataSize);
    } else if (a === "--rtmr-extend") {
      const v = args[++i];
      const m = v?.match(/^(\d+):(.*)$/);
      if (!m) throw new InputError(`--rtmr-extend: expected INDEX:HEX, got "${v ?? ""}"`);
      const index = Number(m[1]);
      if (!rtmrFiles.includes(index)) {
        throw new InputError(
          `--rtmr-extend: RTMR index ${m[1]} is not one of ${rtmrFiles.join(", ")}`,
        );
      }
      ext.push({ index, data: hexArg(`--rtmr-extend ${index}`, m[2], rtmrSize) });
    } else throw new InputError(`unknown argument ${a}`);
  }
  if (!firmware) throw new InputError("--firmware IMAGE is required");
  if (!reportData) throw new InputError("--report-data HEX is required");
  return { firmware, reportData, extends: ext, json };
}

interface GuestOutcome {
  tdreport?: Uint8Array;
  failure?: string;
}

/** What runs inside the TD: the extends through sysfs, then the report ioctl. */
export function guestScript(spec: Spec, req: TdRequest, out: GuestOutcome) {
  const ioctl = spec.ioctl("TDX_CMD_GET_REPORT0");
  const reqSize = spec.struct(ioctl.argument.struct!).size as number;
  const field = (n: string) =>
    spec.struct(ioctl.argument.struct!).fields.find((f) => f.name === n)!;
  return function* (p: Process) {
    for (const e of req.extends) {
      const path = spec.guestInterface(`tdx_guest.rtmr${e.index}`).path;
      const w = yield* p.writeFile(path, e.data);
      if (!w.ok) {
        out.failure = `write to ${path} failed with ${w.errno}`;
        return;
      }
    }
    const dev = spec.guestInterface("dev.tdx_guest").path;
    const fd = yield* p.open(dev, "rw");
    if (!fd.ok) {
      out.failure = `open ${dev} failed with ${fd.errno}`;
      return;
    }
    const arg = p.memory.map(reqSize);
    p.memory.poke(arg + BigInt(field("reportdata").offset!), req.reportData);
    const r = yield* p.ioctl(fd.value, parseHex(ioctl.number), arg);
    yield* p.close(fd.value);
    if (!r.ok) {
      out.failure = `TDX_CMD_GET_REPORT0 failed with ${r.errno}`;
      return;
    }
    const tdreport = field("tdreport");
    out.tdreport = p.memory.peek(arg + BigInt(tdreport.offset!), tdreport.size!);
  };
}

export function main(args: string[]): number {
  const spec = theSpec();
  let req: TdRequest;
  let fw: TdvfFirmware;
  try {
    const parsed = parseArgs(spec, args);
    if (parsed === "help") {
      console.log(USAGE);
      return 0;
    }
    req = parsed;
    fw = loadFirmware(spec, req.firmware);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    console.error(`${e.message}\n${USAGE}`);
    return EXIT_BAD_INPUT;
  }
  const out: GuestOutcome = {};
  const session = runTdSession(fw, guestScript(spec, req, out));
  if (!session.ok) {
    console.error(`${req.firmware}: ${session.error.step}: ${session.error.message}`);
    return EXIT_FAILED;
  }
  if (!out.tdreport) {
    console.error(`${req.firmware}: in the guest: ${out.failure ?? "no TDREPORT"}`);
    return EXIT_FAILED;
  }
  const decoded = new StructCodec(spec).decode("TDREPORT_STRUCT", out.tdreport).value;
  const fields = flattenStruct(spec, "TDREPORT_STRUCT", decoded);
  if (req.json) {
    console.log(JSON.stringify(
      {
        firmware: req.firmware,
        report_data: bytesToHex(req.reportData),
        rtmr_extends: req.extends.map((e) => ({ index: e.index, data: bytesToHex(e.data) })),
        tdreport: bytesToHex(out.tdreport),
        fields: Object.fromEntries(fields),
      },
      null,
      2,
    ));
    return 0;
  }
  console.log(`TDREPORT ${bytesToHex(out.tdreport)}`);
  const width = Math.max(...fields.map(([k]) => k.length));
  for (const [k, v] of fields) console.log(`  ${k.padEnd(width)}  ${v}`);
  return 0;
}

if (import.meta.main) Deno.exit(main(Deno.args));
