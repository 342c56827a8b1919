// The whole CCEL check a verifier makes: read the ACPI table (when given), walk the log
// area it describes, replay the RTMRs and, given the TD's quote, compare them with the
// RTMRs the quote reports.
import type { Spec } from "../../spec/mod.ts";
import { type AttestError, type Result } from "../attest_error.ts";
import { decodeQuote } from "../quote/quote_decode.ts";
import { type CcelTable, parseCcelTable } from "./ccel_table.ts";
import { type EventLog, parseEventLog } from "./event_log.ts";
import { replayRtmrs, rtmrRegisters } from "./rtmr_replay.ts";

export interface QuoteComparison {
  version: number;
  bodyStruct: string;
  /** The quote's RTMRs, in register order. */
  rtmrs: Uint8Array[];
  /** Per register: replayed value equals the quote's. */
  matches: boolean[];
}

export interface CcelReport {
  table?: CcelTable;
  log: EventLog;
  /** Register names in order (RTMR0..RTMR3). */
  registers: string[];
  rtmrs: Uint8Array[];
  quote?: QuoteComparison;
  warnings: string[];
}

/** Which input an error came from. */
export type CcelError = AttestError & { input: "table" | "data" | "quote" };

export interface CcelInputs {
  table?: Uint8Array;
  data: Uint8Array;
  quote?: Uint8Array;
}

function from<T>(
  input: CcelError["input"],
  r: Result<T>,
): { ok: false; error: CcelError } | undefined {
  return r.ok ? undefined : { ok: false, error: { ...r.error, input } };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function checkCcel(
  spec: Spec,
  inputs: CcelInputs,
): { ok: true; value: CcelReport } | { ok: false; error: CcelError } {
  const warnings: string[] = [];
  let table: CcelTable | undefined;
  let area = inputs.data;
  if (inputs.table) {
    const t = parseCcelTable(spec, inputs.table);
    if (!t.ok) return from("table", t)!;
    table = t.value;
    const laml = Number(table.laml);
    if (area.length > laml) {
      warnings.push(
        `the log data has ${area.length} bytes; only the first ${laml} (LAML) are read`,
      );
      area = area.subarray(0, laml);
    } else if (area.length < laml) {
      warnings.push(`the log data has ${area.length} bytes, less than the table's LAML ${laml}`);
    }
  }
  const log = parseEventLog(spec, area);
  if (!log.ok) return from("data", log)!;
  const registers = rtmrRegisters(spec).map((r) => r.name);
  const rtmrs = replayRtmrs(spec, log.value.events);
  const report: CcelReport = { table, log: log.value, registers, rtmrs, warnings };
  if (inputs.quote) {
    const q = decodeQuote(spec, inputs.quote);
    if (!q.ok) return from("quote", q)!;
    const quoteRtmrs = registers.map((r) => q.value.body[r.toLowerCase()] as Uint8Array);
    report.quote = {
      version: q.value.version,
      bodyStruct: q.value.bodyStruct,
      rtmrs: quoteRtmrs,
      matches: quoteRtmrs.map((v, i) => equal(v, rtmrs[i])),
    };
  }
  return { ok: true, value: report };
}
