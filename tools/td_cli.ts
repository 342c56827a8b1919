// deno task td --firmware IMAGE --report-data HEX [--rtmr-extend INDEX:HEX ...]
//   [--quote [--qgs tcp:PORT|tcp:HOST:PORT|unix:PATH] [--notify-vector N]] [--json]
// Boots a TD from a TDVF image on the reference stack. Inside, the guest extends the
// given RTMRs by writing 48 bytes to measurements/rtmrN:sha384, then asks
// /dev/tdx_guest for a TDREPORT over REPORTDATA (TDX_CMD_GET_REPORT0). Prints the
// TDREPORT in hex and field by field. With --quote the guest then asks configfs-tsm for
// a quote over the same REPORTDATA: GetQuote exits to the launcher, which sends the
// TDREPORT to the QGS at --qgs, or without it to an in-process QGS signing with the
// test PKI of the default seed (the one `deno task qgs` uses); the quote is printed in
// hex and decoded.
import { type Spec, theSpec } from "../impl/spec/mod.ts";
import { StructCodec } from "../impl/spec/codec.ts";
import { bytesToHex, parseHex } from "../impl/spec/hex.ts";
import type { TdvfFirmware } from "../impl/vmm/tdvf.ts";
import type { Process } from "../impl/guest/process.ts";
import { runTdSessionAsync } from "../impl/platform/td_stack.ts";
import type { QuoteWait } from "../impl/guest/tdx_guest.ts";
import { QgsQuoteService } from "../impl/vmm/qgs_quote_service.ts";
import { inProcessQgs, parseQgsEndpoint, socketQgs } from "../impl/platform/qgs_connection.ts";
import type { QgsEndpoint } from "../impl/attest/qgs/client.ts";
import { makeQuoteGenerator } from "../impl/attest/quote/quote_generate.ts";
import { decodeQuote } from "../impl/attest/quote/quote_decode.ts";
import {
  EXIT_BAD_INPUT,
  EXIT_FAILED,
  flattenStruct,
  hex64,
  hexArg,
  InputError,
  loadFirmware,
} from "./td_tool_common.ts";

const USAGE = "usage: deno task td --firmware IMAGE --report-data HEX " +
  "[--rtmr-extend INDEX:HEX ...]\n" +
  "    [--quote [--qgs tcp:PORT|tcp:HOST:PORT|unix:PATH] [--notify-vector N]] [--json]\n" +
  "  boots a TD; the guest extends RTMRs through sysfs and gets a TDREPORT from /dev/tdx_guest\n" +
  "  --report-data    64 bytes (128 hex digits) of REPORTDATA\n" +
  "  --rtmr-extend    RTMR index 0-3 and 48 bytes (96 hex digits) to extend it with; repeatable\n" +
  "  --quote          then a quote over REPORTDATA through configfs-tsm (GetQuote to the VMM)\n" +
  "  --qgs            the QGS the VMM asks (default: an in-process QGS with the test PKI of\n" +
  "                   `deno task qgs`'s default seed)\n" +
  "  --notify-vector  the guest waits for this SetupEventNotifyInterrupt vector, not polling";

/** The in-process QGS signs with the test PKI of this seed: `deno task qgs`'s default. */
const DEFAULT_SEED = new Uint8Array(32);

export interface TdRequest {
  firmware: string;
  reportData: Uint8Array;
  extends: { index: number; data: Uint8Array }[];
  json: boolean;
  quote?: { qgs?: QgsEndpoint; wait: QuoteWait };
}

export function parseArgs(spec: Spec, args: string[]): TdRequest | "help" {
  let firmware: string | undefined;
  let reportData: Uint8Array | undefined;
  const ext: TdRequest["extends"] = [];
  let json = false;
  let quote = false;
  let qgs: QgsEndpoint | undefined;
  let vector: number | undefined;
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
    } else if (a === "--quote") quote = true;
    else if (a === "--qgs") {
      const v = args[++i];
      if (v === undefined) throw new InputError("--qgs needs a value");
      const e = parseQgsEndpoint(v);
      if (typeof e === "string") throw new InputError(`--qgs: ${e}`);
      qgs = e;
    } else if (a === "--notify-vector") {
      const v = args[++i];
      if (!v || !/^(\d+|0x[0-9a-fA-F]+)$/.test(v) || Number(v) > 0xFF) {
        throw new InputError(
          `--notify-vector: expected an interrupt vector 0-255, got "${v ?? ""}"`,
        );
      }
      vector = Number(v);
    } else throw new InputError(`unknown argument ${a}`);
  }
  if (!firmware) throw new InputError("--firmware IMAGE is required");
  if (!reportData) throw new InputError("--report-data HEX is required");
  if (!quote && (qgs || vector !== undefined)) {
    throw new InputError(`${qgs ? "--qgs" : "--notify-vector"} needs --quote`);
  }
  const wait: QuoteWait = vector === undefined ? { kind: "poll" } : { kind: "notify", vector };
  return { firmware, reportData, extends: ext, json, quote: quote ? { qgs, wait } : undefined };
}

interface GuestOutcome {
  tdreport?: Uint8Array;
  quote?: Uint8Array;
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
    if (req.quote) yield* quoteThroughTsm(spec, p, req.reportData, out);
  };
}

/** configfs-tsm: a report directory, REPORTDATA into inblob, the quote out of outblob. */
function* quoteThroughTsm(spec: Spec, p: Process, reportData: Uint8Array, out: GuestOutcome) {
  const dir = `${spec.guestInterface("tsm_report.inblob").path.split("/<name>/")[0]}/td_cli`;
  const m = yield* p.mkdir(dir);
  if (!m.ok) {
    const why = p.kernel.driverError
      ? ` (the tdx_guest driver did not load: ${p.kernel.driverError})`
      : "";
    out.failure = `mkdir ${dir} failed with ${m.errno}${why}`;
    return;
  }
  const w = yield* p.writeFile(`${dir}/inblob`, reportData);
  if (!w.ok) {
    out.failure = `write to ${dir}/inblob failed with ${w.errno}`;
    return;
  }
  const r = yield* p.readFile(`${dir}/outblob`);
  if (!r.ok) {
    out.failure = `read of ${dir}/outblob failed with ${r.errno}`;
    return;
  }
  out.quote = r.value;
}

/** A quote's decoded fields as flat pairs (header, body, signature, QE report). */
export function quoteFields(spec: Spec, quote: Uint8Array): [string, string][] {
  const d = decodeQuote(spec, quote);
  if (!d.ok) return [["error", `${d.error.field}: ${d.error.message}`]];
  const q = d.value;
  const type = (v: number) =>
    `${hex64(v)} (${
      spec.enum("CERTIFICATION_DATA_TYPE").values.find((x) => Number(BigInt(x.value)) === v)
        ?.name ?? "unknown"
    })`;
  const out: [string, string][] = [
    ...flattenStruct(spec, "QUOTE_HEADER", q.header, "header."),
    ...flattenStruct(spec, q.bodyStruct, q.body, "body."),
    ["signature.quote_signature", bytesToHex(q.quoteSignature)],
    ["signature.attestation_key", bytesToHex(q.attestationKey)],
    ["signature.certification_data.type", type(q.certificationType)],
  ];
  if (q.qeReport) {
    out.push(...flattenStruct(spec, "SGX_REPORT_BODY", q.qeReport.report, "qe_report."));
    out.push(["qe_report.certification_data.type", type(q.qeReport.certificationType)]);
  }
  if (q.pckChainPem !== undefined) {
    const certs = q.pckChainPem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
    out.push(["qe_report.pck_chain", `${certs} PEM certificates`]);
  }
  return out;
}

export async function main(args: string[]): Promise<number> {
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
  const service = req.quote
    ? new QgsQuoteService(
      spec,
      req.quote.qgs
        ? socketQgs(spec, req.quote.qgs)
        : inProcessQgs({ spec, generator: makeQuoteGenerator(spec, DEFAULT_SEED) }),
    )
    : undefined;
  const session = await runTdSessionAsync(fw, guestScript(spec, req, out), {
    quote: service ? { service } : undefined,
    quoteWait: req.quote?.wait,
  });
  if (!session.ok) {
    console.error(`${req.firmware}: ${session.error.step}: ${session.error.message}`);
    return EXIT_FAILED;
  }
  if (!out.tdreport || (req.quote && !out.quote)) {
    const qgsError = service?.requests.find((r) => r.error)?.error;
    const why = qgsError ? `; the QGS at ${service!.connection.endpoint}: ${qgsError.message}` : "";
    console.error(`${req.firmware}: in the guest: ${out.failure ?? "no TDREPORT"}${why}`);
    return EXIT_FAILED;
  }
  const decoded = new StructCodec(spec).decode("TDREPORT_STRUCT", out.tdreport).value;
  const fields = flattenStruct(spec, "TDREPORT_STRUCT", decoded);
  const quoteFieldList = out.quote ? quoteFields(spec, out.quote) : [];
  if (req.json) {
    console.log(JSON.stringify(
      {
        firmware: req.firmware,
        report_data: bytesToHex(req.reportData),
        rtmr_extends: req.extends.map((e) => ({ index: e.index, data: bytesToHex(e.data) })),
        tdreport: bytesToHex(out.tdreport),
        fields: Object.fromEntries(fields),
        ...(out.quote
          ? {
            qgs: service!.connection.endpoint,
            quote: bytesToHex(out.quote),
            quote_fields: Object.fromEntries(quoteFieldList),
          }
          : {}),
      },
      null,
      2,
    ));
    return 0;
  }
  console.log(`TDREPORT ${bytesToHex(out.tdreport)}`);
  const width = Math.max(...[...fields, ...quoteFieldList].map(([k]) => k.length));
  for (const [k, v] of fields) console.log(`  ${k.padEnd(width)}  ${v}`);
  if (out.quote) {
    console.log(`QUOTE ${bytesToHex(out.quote)}`);
    console.log(`  ${"qgs".padEnd(width)}  ${service!.connection.endpoint}`);
    for (const [k, v] of quoteFieldList) console.log(`  ${k.padEnd(width)}  ${v}`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
