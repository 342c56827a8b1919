// The reference's attest layer: event-log replay (and, as the verifier lands, quote
// parsing and verification). Inputs name files under the suite's root.
import type { Spec } from "../../impl/spec/mod.ts";
import { bytesToHex } from "../../impl/spec/hex.ts";
import { checkCcel } from "../../impl/attest/eventlog/ccel_check.ts";
import type { StepActual } from "../vector_types.ts";
import { SUITE_ROOT } from "./measure_layer.ts";

function file(input: Record<string, unknown>, key: string): Uint8Array | undefined {
  const name = input[key];
  if (name === undefined) return undefined;
  let bytes = Deno.readFileSync(SUITE_ROOT + String(name));
  const cut = input[`${key}_truncate`];
  if (cut !== undefined) bytes = bytes.slice(0, Number(cut));
  return bytes;
}

export function runAttestStep(spec: Spec, op: string, input: Record<string, unknown>): StepActual {
  if (op === "attest.eventlog") {
    const data = file(input, "data");
    if (!data) return { error: { class: "missing-input", field: "data" } };
    const r = checkCcel(spec, { table: file(input, "table"), data, quote: file(input, "quote") });
    if (!r.ok) {
      return { error: { class: r.error.kind, input: r.error.input, field: r.error.field } };
    }
    const v = r.value;
    const out: StepActual = {
      events: v.log.events.length,
      rtmrs: Object.fromEntries(
        v.registers.map((name, i) => [name.toLowerCase(), bytesToHex(v.rtmrs[i])]),
      ),
    };
    if (v.quote) out.quote_rtmrs_match = v.quote.matches.every(Boolean);
    return out;
  }
  return { error: { class: "unsupported-op", op } };
}
