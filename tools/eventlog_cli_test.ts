// deno task eventlog: lists and replays real logs, compares with the quote (exit 1 on
// a mismatch) and exits 2 with the file and field on bad input.
import { strict as assert } from "node:assert";
import { main } from "./eventlog_cli.ts";

const dir = new URL("../fixtures/realdata/", import.meta.url).pathname;
const TABLE = `${dir}eventlogs/gotdx_cos113_ccel_table.dat`;
const DATA = `${dir}eventlogs/gotdx_cos113_ccel_data.dat`;
const QUOTE = `${dir}quotes/gotdx_cos113_tdx_quote.dat`;

function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test("the COS-113 log matches its quote", () => {
  const r = run([TABLE, DATA, "--quote", QUOTE]);
  assert.equal(r.code, 0, r.err);
  assert.ok(r.out.startsWith(`CCEL table: revision 1, OEM "INTEL " "EDK2    ", CC type 2 (TDX)`));
  assert.match(r.out, / 43 MR 2 RTMR1 EV_EFI_ACTION +0a2e01c8/);
  assert.match(r.out, /the log replays to the RTMRs of the v4 quote/);
});

Deno.test("--json gives events, RTMRs and the comparison", () => {
  const r = run([TABLE, DATA, "--quote", QUOTE, "--json"]);
  assert.equal(r.code, 0);
  const j = JSON.parse(r.out);
  assert.equal(j.events.length, 43);
  assert.equal(j.events[0].type_name, "EV_EFI_HANDOFF_TABLES2");
  assert.equal(j.events[0].register, "RTMR0");
  assert.match(j.rtmrs.RTMR0, /^3fa2f61f/);
  assert.equal(j.quote.match, true);
  assert.equal(j.table.lasa, "0xBEDBF000");
});

Deno.test("a log that does not belong to the quote exits 1 and names the RTMRs", () => {
  const r = run([
    `${dir}eventlogs/trustee_CCEL_data`,
    "--quote",
    `${dir}quotes/trustee_tdx_quote_4.dat`,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.out, /MISMATCH: RTMR0, RTMR1/);
});

Deno.test("bad input exits 2 with the file and the field", () => {
  const csv = run([`${dir}eventlogs/trustee_CCEL_data_csv`]);
  assert.equal(csv.code, 2);
  assert.match(
    csv.err,
    /trustee_CCEL_data_csv: TCG_EFI_SPEC_ID_EVENT\.digest_sizes .*SM3_256.*\(not-tdx\)/,
  );
  const swapped = run([DATA, TABLE]);
  assert.equal(swapped.code, 2);
  assert.match(swapped.err, /gotdx_cos113_ccel_data\.dat: CCEL_ACPI_TABLE/);
  const sgx = run([DATA, "--quote", `${dir}quotes/dcapqvl_sgx_quote.dat`]);
  assert.equal(sgx.code, 2);
  assert.match(sgx.err, /dcapqvl_sgx_quote\.dat: QUOTE_HEADER\.tee_type/);
  assert.equal(run(["/nonexistent/file"]).code, 2);
  assert.equal(run([]).code, 2);
  assert.equal(run(["a", "b", "c"]).code, 2);
  assert.equal(run(["--bogus", DATA]).code, 2);
});
