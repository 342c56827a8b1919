// The reference's attest layer: event-log replay (and, as the verifier lands, quote
// parsing and verification). Inputs name files under the suite's root.
import type { Spec } from "../../impl/spec/mod.ts";
import { bytesToHex } from "../../impl/spec/hex.ts";
import { checkCcel } from "../../impl/attest/eventlog/ccel_check.ts";
import { decodeQuote } from "../../impl/attest/quote/quote_decode.ts";
import { flatten } from "../value_format.ts";
import type { StepActual } from "../vector_types.ts";
import { hexToBytes } from "../../impl/spec/hex.ts";
import {
  addCollateralFile,
  emptyCollateral,
  intelSgxRoot,
  trustAnchorFromBytes,
  verifyQuote,
} from "../../impl/attest/verify/mod.ts";
import { SUITE_ROOT } from "./measure_layer.ts";

function file(input: Record<string, unknown>, key: string): Uint8Array | undefined {
  const name = input[key];
  if (name === undefined) return undefined;
  let bytes = Deno.readFileSync(SUITE_ROOT + String(name));
  const cut = input[`${key}_truncate`];
  if (cut !== undefined) bytes = bytes.slice(0, Number(cut));
  return bytes;
}

/** The quote bytes a step names (a file or hex), damaged as the step says. */
function quoteBytes(input: Record<string, unknown>): Uint8Array {
  let q = input.quote_hex !== undefined
    ? hexToBytes(String(input.quote_hex))
    : file(input, "quote")!;
  if (input.quote_truncate !== undefined) q = q.slice(0, Number(input.quote_truncate));
  else q = q.slice();
  for (const p of (input.quote_patch ?? []) as { offset: number; xor: string }[]) {
    hexToBytes(p.xor).forEach((b, i) => q[p.offset + i] ^= b);
  }
  return q;
}

const VIEW_FIELDS = [
  "mr_td",
  "rtmr0",
  "rtmr1",
  "rtmr2",
  "rtmr3",
  "report_data",
  "mr_seam",
  "td_attributes",
  "xfam",
];

/** attest.verify: a verdict, the TCB status, the first reason and the TD's measurements. */
export async function runVerifyStep(input: Record<string, unknown>): Promise<StepActual> {
  const rootInput = input.root_pem !== undefined
    ? new TextEncoder().encode(String(input.root_pem))
    : input.root !== undefined
    ? Deno.readFileSync(SUITE_ROOT + String(input.root))
    : undefined;
  const root = rootInput ? await trustAnchorFromBytes(rootInput) : await intelSgxRoot();
  if (typeof root === "string") return { error: { class: "invalid-root" } };
  const collateral = emptyCollateral();
  const texts = [
    ...((input.collateral ?? []) as string[]).map((f) => Deno.readFileSync(SUITE_ROOT + f)),
    ...((input.collateral_text ?? []) as string[]).map((t) => new TextEncoder().encode(t)),
  ];
  texts.forEach((bytes, i) => addCollateralFile(collateral, `collateral[${i}]`, bytes));
  const r = await verifyQuote(quoteBytes(input), {
    root,
    collateral: texts.length ? collateral : undefined,
    at: new Date(String(input.at)),
    allowDebug: Boolean(input.allow_debug),
    expect: [],
  });
  const out: StepActual = { verdict: r.ok ? "accept" : "reject" };
  if (r.format) out.format = r.format;
  if (r.tcb?.status) out.tcb_status = r.tcb.status;
  if (!r.ok && r.reasons[0]) {
    const first = r.reasons[0];
    out.rejected_by = first.field !== undefined
      ? { check: first.check, field: first.field }
      : { check: first.check };
  }
  const body = r.decoded?.body;
  if (body) {
    out.fields = Object.fromEntries(
      VIEW_FIELDS.filter((k) => k in body).map((k) => [k, String(body[k])]),
    );
  }
  return out;
}

/** attest.parse: the quote's structure (no signature checks), or the class of what is wrong. */
export function runParseStep(spec: Spec, input: Record<string, unknown>): StepActual {
  const q = decodeQuote(spec, quoteBytes(input));
  if (!q.ok) return { error: { class: q.error.kind } };
  const v = q.value;
  return {
    version: v.version,
    body_type: v.bodyType,
    size: v.size,
    body: flatten(v.body),
    certification_data_type: v.certificationType,
    ...(v.qeReport ? { pck_certification_data_type: v.qeReport.certificationType } : {}),
    pck_chain_certificates: (v.pckChainPem?.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length,
  };
}

export function runAttestStep(
  spec: Spec,
  op: string,
  input: Record<string, unknown>,
): StepActual | Promise<StepActual> {
  if (op === "attest.verify") return runVerifyStep(input);
  if (op === "attest.parse") return runParseStep(spec, input);
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
