// deno task eventlog [CCEL_TABLE] CCEL_DATA [--json] [--quote QUOTE]: lists the events
// of a TDX CC event log, replays RTMR0-3 and, with --quote, compares them with the
// quote's. Exit 0 on success, 1 when an RTMR differs from the quote's, 2 on bad input.
import { parseArgs } from "node:util";
import { theSpec } from "../impl/spec/mod.ts";
import { bytesToHex } from "../impl/spec/hex.ts";
import { hex } from "../impl/attest/attest_error.ts";
import { type CcelReport, checkCcel } from "../impl/attest/eventlog/ccel_check.ts";
import { summarizeEvent } from "../impl/attest/eventlog/event_data.ts";

const USAGE = "usage: deno task eventlog [CCEL_TABLE] CCEL_DATA [--json] [--quote QUOTE]\n" +
  "  CCEL_TABLE: the 56-byte ACPI CCEL table (optional); CCEL_DATA: the event log area\n" +
  "  --quote QUOTE: compare the replayed RTMRs with the quote's (exit 1 on mismatch)\n" +
  "  --json: print the result as JSON";

export interface Io {
  out(line: string): void;
  err(line: string): void;
}
const consoleIo: Io = { out: (l) => console.log(l), err: (l) => console.error(l) };

function read(path: string, what: string, io: Io): Uint8Array | undefined {
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    io.err(`${what} ${path}: ${(e as Error).message}`);
    return undefined;
  }
}

function toJson(spec: ReturnType<typeof theSpec>, r: CcelReport): unknown {
  return {
    table: r.table && { ...r.table, laml: hex(r.table.laml), lasa: hex(r.table.lasa) },
    spec_id: { ...r.log.specId, vendorInfo: bytesToHex(r.log.specId.vendorInfo) },
    events: r.log.events.map((e) => ({
      index: e.index,
      offset: e.offset,
      mr_index: e.mrIndex,
      register: e.register ?? null,
      type: e.eventType,
      type_name: e.typeName ?? null,
      digest: bytesToHex(e.digest),
      event_size: e.data.length,
      summary: summarizeEvent(spec, e),
    })),
    log_end: r.log.end,
    rtmrs: Object.fromEntries(r.registers.map((n, i) => [n, bytesToHex(r.rtmrs[i])])),
    quote: r.quote && {
      version: r.quote.version,
      body: r.quote.bodyStruct,
      rtmrs: Object.fromEntries(r.registers.map((n, i) => [n, bytesToHex(r.quote!.rtmrs[i])])),
      match: r.quote.matches.every(Boolean),
      mismatched: r.registers.filter((_, i) => !r.quote!.matches[i]),
    },
    warnings: r.warnings,
  };
}

function toText(spec: ReturnType<typeof theSpec>, r: CcelReport, io: Io) {
  if (r.table) {
    const t = r.table;
    io.out(
      `CCEL table: revision ${t.revision}, OEM ${JSON.stringify(t.oemId)} ` +
        `${JSON.stringify(t.oemTableId)}, CC type ${t.ccType} (${t.ccTypeName}), ` +
        `LASA ${hex(t.lasa)}, LAML ${hex(t.laml)}`,
    );
  }
  const s = r.log.specId;
  io.out(
    `Spec ID event: ${
      JSON.stringify(s.signature)
    } version ${s.specVersion} errata ${s.specErrata}` +
      `, ${s.algorithms.map((a) => `${a.name}/${a.digestSize}`).join(" ")}; ` +
      `${r.log.events.length} events, log ends at ${hex(r.log.end)}`,
  );
  for (const e of r.log.events) {
    const type = e.typeName ?? hex(e.eventType);
    io.out(
      `${String(e.index).padStart(3)} MR ${e.mrIndex} ${(e.register ?? "?").padEnd(5)} ` +
        `${type.padEnd(32)} ${bytesToHex(e.digest)} ${summarizeEvent(spec, e)}`,
    );
  }
  r.registers.forEach((n, i) => io.out(`${n} ${bytesToHex(r.rtmrs[i])}`));
  if (r.quote) {
    const q = r.quote;
    r.registers.forEach((n, i) =>
      io.out(
        `quote ${n} ${bytesToHex(q.rtmrs[i])} ${q.matches[i] ? "matches" : "DIFFERS from the log"}`,
      )
    );
    io.out(
      q.matches.every(Boolean)
        ? `the log replays to the RTMRs of the v${q.version} quote`
        : `MISMATCH: ${r.registers.filter((_, i) => !q.matches[i]).join(", ")} differ`,
    );
  }
  for (const w of r.warnings) io.err(`warning: ${w}`);
}

export function main(args: string[], io: Io = consoleIo): number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: "boolean" }, quote: { type: "string" }, help: { type: "boolean" } },
    });
  } catch (e) {
    io.err(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    io.out(USAGE);
    return 0;
  }
  const pos = parsed.positionals;
  if (pos.length < 1 || pos.length > 2) {
    io.err(`expected one or two files, got ${pos.length}\n${USAGE}`);
    return 2;
  }
  const [tablePath, dataPath] = pos.length === 2 ? pos : [undefined, pos[0]];
  const table = tablePath === undefined ? undefined : read(tablePath, "CCEL table", io);
  const data = read(dataPath, "CCEL data", io);
  const quotePath = parsed.values.quote;
  const quote = quotePath === undefined ? undefined : read(quotePath, "quote", io);
  if ((tablePath && !table) || !data || (quotePath && !quote)) return 2;
  const spec = theSpec();
  const r = checkCcel(spec, { table, data, quote });
  if (!r.ok) {
    const file = { table: tablePath, data: dataPath, quote: quotePath }[r.error.input];
    const at = r.error.offset === undefined ? "" : ` at offset ${hex(r.error.offset)}`;
    io.err(`${file}: ${r.error.field}${at}: ${r.error.message} (${r.error.kind})`);
    return 2;
  }
  if (parsed.values.json) io.out(JSON.stringify(toJson(spec, r.value), null, 2));
  else toText(spec, r.value, io);
  return r.value.quote && !r.value.quote.matches.every(Boolean) ? 1 : 0;
}

if (import.meta.main) Deno.exit(main(Deno.args));
