// Malformed event logs give an error value naming the field at fault; truncated,
// mutated and random inputs never make the parser (or the event summaries) throw.
import { strict as assert } from "node:assert";
import { theSpec } from "../../spec/mod.ts";
import { SampleRng } from "../../spec/sample_values.ts";
import { fieldOffset, structSize } from "../spec_facts.ts";
import { parseEventLog } from "./event_log.ts";
import { summarizeEvent } from "./event_data.ts";
import { checkCcel } from "./ccel_check.ts";

const spec = theSpec();
const dir = new URL("../../../fixtures/realdata/eventlogs/", import.meta.url);
const cos = Deno.readFileSync(new URL("gotdx_cos113_ccel_data.dat", dir)).subarray(0, 18101);
const table = Deno.readFileSync(new URL("gotdx_cos113_ccel_table.dat", dir));

const full = parseEventLog(spec, cos);
if (!full.ok) throw new Error(full.error.message);
const first = full.value.events[0];

function u32(bytes: Uint8Array, at: number, v: number) {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, v, true);
}
function edited(edit: (b: Uint8Array) => void): Uint8Array {
  const b = cos.slice();
  edit(b);
  return b;
}
const rec = (field: string) => first.offset + fieldOffset(spec, "CC_EVENT_SHA384", field);

Deno.test("malformed logs are refused with the field at fault", async (t) => {
  const cases: [string, Uint8Array, string, string][] = [
    ["empty", new Uint8Array(0), "truncated", "TCG_PCR_EVENT"],
    ["header only half there", cos.subarray(0, 20), "truncated", "TCG_PCR_EVENT"],
    [
      "first record is not EV_NO_ACTION",
      edited((b) => u32(b, fieldOffset(spec, "TCG_PCR_EVENT", "event_type"), 4)),
      "invalid",
      "TCG_PCR_EVENT.event_type",
    ],
    [
      "Spec ID event shorter than event_size",
      edited((b) => {
        const at = fieldOffset(spec, "TCG_PCR_EVENT", "event_size");
        u32(b, at, new DataView(b.buffer).getUint32(at, true) + 1);
      }),
      "invalid",
      "TCG_PCR_EVENT.event_size",
    ],
    [
      "two digests in a record",
      edited((b) => u32(b, rec("digest_count"), 2)),
      "invalid",
      "TCG_PCR_EVENT2.digest_count",
    ],
    [
      "a digest of another algorithm",
      edited((b) => b.set([Number(spec.enumValue("TCG_ALG_ID", "SHA256")), 0], rec("hash_alg"))),
      "invalid",
      "CC_EVENT_SHA384.hash_alg",
    ],
    [
      "MR index beyond RTMR3",
      edited((b) => u32(b, rec("mr_index"), 9)),
      "invalid",
      "CC_EVENT_SHA384.mr_index",
    ],
    [
      "event_size past the end",
      edited((b) => u32(b, rec("event_size"), 0x7fffffff)),
      "truncated",
      "CC_EVENT_SHA384.event",
    ],
    [
      "a few stray bytes after the last record",
      new Uint8Array([...cos, 1, 2, 3]),
      "truncated",
      "TCG_PCR_EVENT2",
    ],
  ];
  for (const [name, bytes, kind, field] of cases) {
    await t.step(name, () => {
      const r = parseEventLog(spec, bytes);
      assert.ok(!r.ok, "accepted");
      assert.equal(r.error.kind, kind);
      // A struct name alone means "somewhere in it": the codec names the first field cut off.
      assert.ok(r.error.field === field || r.error.field.startsWith(`${field}.`), r.error.field);
      assert.ok(r.error.message.length > 10);
    });
  }
});

function exercise(bytes: Uint8Array) {
  const r = parseEventLog(spec, bytes);
  if (r.ok) {
    for (const e of r.value.events) assert.equal(typeof summarizeEvent(spec, e), "string");
  } else {
    assert.ok(["truncated", "invalid", "not-tdx", "unsupported"].includes(r.error.kind));
    assert.ok(r.error.offset === undefined || r.error.offset <= bytes.length);
  }
  return r;
}

Deno.test("every truncation of a real log parses to a prefix of its events or an error", () => {
  const boundaries = new Set(full.value.events.map((e) => e.offset));
  for (let n = 0; n <= cos.length; n += n < 600 ? 1 : 13) {
    const r = exercise(cos.subarray(0, n));
    if (r.ok) {
      assert.ok(r.value.events.length <= full.value.events.length);
      r.value.events.forEach((e, i) => assert.equal(e.offset, full.value.events[i].offset));
    }
  }
  // Cutting exactly at a record boundary keeps every record before it.
  for (const at of boundaries) {
    const r = exercise(cos.subarray(0, at));
    assert.ok(r.ok);
    assert.equal(r.value.end, at);
  }
});

Deno.test("mutated and random logs never throw", () => {
  const rng = new SampleRng(2026);
  for (let i = 0; i < 400; i++) {
    const b = cos.slice();
    const flips = 1 + rng.below(8);
    for (let j = 0; j < flips; j++) b[rng.below(b.length)] = rng.below(256);
    exercise(b);
  }
  for (let i = 0; i < 300; i++) exercise(rng.bytes(rng.below(2048)));
  // Random bytes behind a valid header and Spec ID event reach the record parser.
  const headerSize = full.value.events[0].offset;
  for (let i = 0; i < 300; i++) {
    exercise(new Uint8Array([...cos.subarray(0, headerSize), ...rng.bytes(rng.below(512))]));
  }
  assert.ok(structSize(spec, "CC_EVENT_SHA384") > 0);
});

Deno.test("a mutated CCEL table or quote never throws in the whole check", () => {
  const rng = new SampleRng(7);
  const quote = Deno.readFileSync(
    new URL("../../../fixtures/realdata/quotes/gotdx_cos113_tdx_quote.dat", import.meta.url),
  );
  let quoteErrors = 0;
  for (let i = 0; i < 200; i++) {
    const t = table.slice();
    t[rng.below(t.length)] = rng.below(256);
    const r = checkCcel(spec, { table: t, data: cos, quote });
    if (!r.ok) assert.equal(r.error.input, "table");
  }
  for (let i = 0; i < 300; i++) {
    const q = quote.slice(0, rng.below(quote.length + 1));
    for (let j = rng.below(4); j > 0 && q.length > 0; j--) q[rng.below(q.length)] = rng.below(256);
    const r = checkCcel(spec, { table, data: cos, quote: q });
    if (!r.ok) {
      assert.equal(r.error.input, "quote");
      quoteErrors++;
    }
  }
  assert.ok(quoteErrors > 100);
});
