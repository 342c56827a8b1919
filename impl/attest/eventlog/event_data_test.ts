// Event data summaries decode the UEFI structures of the real logs with the spec's
// layouts.
import { strict as assert } from "node:assert";
import { theSpec } from "../../spec/mod.ts";
import { parseEventLog } from "./event_log.ts";
import { summarizeEvent } from "./event_data.ts";

const spec = theSpec();
const log = (file: string) => {
  const r = parseEventLog(
    spec,
    Deno.readFileSync(new URL(`../../../fixtures/realdata/eventlogs/${file}`, import.meta.url)),
  );
  if (!r.ok) throw new Error(r.error.message);
  return r.value.events;
};

Deno.test("COS-113 events summarize by type", () => {
  const s = log("gotdx_cos113_ccel_data.dat").map((e) => summarizeEvent(spec, e));
  assert.match(s[0], /^"TdxTable" 1 table\(s\) [0-9a-f-]{36}@0x/);
  assert.match(s[1], /^"Fv\(48DB5E17-707C-472D-91CD-1613E7EF51B0\)" at 0xFFE00000, 0x20000 bytes$/);
  assert.equal(s[2], '8be4df61-93ca-11d2-aa0d-00e098032b8c "SecureBoot" (1 bytes of data)');
  assert.match(s[6], /"dbx" \(4461 bytes of data\)/);
  assert.equal(s[7], "4 bytes 00000000");
  assert.equal(s[14], '"Calling EFI Application from Boot Option"');
  assert.match(s[17], /^image at 0xBCB5C018, 0xE1C10 bytes, 128-byte device path$/);
  assert.match(s[40], /^"kernel_cmdline: /);
});

Deno.test("every variable event's size is what UEFI_VARIABLE_DATA says", () => {
  for (
    const file of [
      "gotdx_cos113_ccel_data.dat",
      "trustee_CCEL_data_ovmf",
      "trustee_CCEL_data_grub",
      "trustee_CCEL_data_gcp",
      "trustee_CCEL_data_grub_gke",
      "trustee_CCEL_AAEL_alibabacloud",
    ]
  ) {
    for (const e of log(file)) {
      const s = summarizeEvent(spec, e);
      assert.doesNotMatch(s, /undecodable|trailing bytes/, `${file} #${e.index}: ${s}`);
    }
  }
});
