// Test support and composition root: the module model's TDH.QUOTE.GET wired to the DICE
// quote signer, the way a platform build would - the signer checks a TDREPORT's MAC with
// the module's own check (impl/module/report.ts) and signs with the test DICE PKI. Also a
// host-side TDH.QUOTE.GET: an input page, an HPA_LINKED_LIST of output pages as large as
// MAX_QUOTE_SIZE asks, repeated while the module reports TDX_INTERRUPTED_RESUMABLE.
import { encodeBits } from "../../../spec/bits.ts";
import { fieldOffset, fieldSize, structSize } from "../../spec_facts.ts";
import type { Platform } from "../../../module/testing/fixture.ts";
import { readGlobal } from "../../../module/testing/extension_steps.ts";
import { macMatches } from "../../../module/report.ts";
import { type DiceModuleSigner, diceModuleSigner } from "../module_signer.ts";
import type { DiceQuoteRequest } from "../dice_quote_generate.ts";

/** A DICE signer checking reports against the platform's current module, installed in it. */
export function wireDiceQuoting(
  p: Platform,
  seed: Uint8Array,
  request?: DiceQuoteRequest,
): DiceModuleSigner {
  const spec = p.spec;
  const at = fieldOffset(spec, "TDREPORT_STRUCT", "report_mac_struct");
  const size = structSize(spec, "REPORTMACSTRUCT");
  const signer = diceModuleSigner(spec, {
    seed,
    request,
    checkReport: (r) =>
      r.length >= at + size &&
      macMatches(spec, p.module.state.reportMacKey, r.subarray(at, at + size)),
  });
  p.module.state.quoteSigner = signer;
  return signer;
}

export interface QuoteGetResult {
  status: string | undefined;
  quote: Uint8Array;
  /** TDH.QUOTE.GET calls made (more than one when interrupted). */
  calls: number;
}

/** TDH.QUOTE.GET for the TD at `tdr` with `input` (a TDREPORT) as the guest supplied it. */
export function quoteGet(p: Platform, tdr: bigint, input: Uint8Array): QuoteGetResult {
  const spec = p.spec;
  const page = structSize(spec, "HPA_LINKED_LIST_NODE");
  const entry = fieldSize(spec, "HPA_LINKED_LIST_NODE", "next");
  const slots = spec.struct("HPA_LINKED_LIST_NODE").fields.find((f) => f.name === "hpa")!.count!;
  // All ones ends the list (HPA_LINKED_LIST_NODE).
  const END = (1n << BigInt(8 * entry)) - 1n;
  const max = Number(readGlobal(p, "MAX_QUOTE_SIZE"));
  const bufferLen = Math.ceil(max / page) * page;
  const pages = Array.from({ length: bufferLen / page }, () => p.allocPage());
  if (pages.length > slots) throw new Error("quoteGet: one HPA_LINKED_LIST node is enough here");
  const node = p.allocPage();
  const nodeBytes = new Uint8Array(page);
  const view = new DataView(nodeBytes.buffer);
  for (let i = 0; i <= slots; i++) view.setBigUint64(entry * i, pages[i] ?? END, true);
  p.cpu.memory.write(node, nodeBytes);
  const inputPa = p.allocPage();
  p.cpu.memory.write(inputPa, input);
  const params = spec.seamcall("TDH.QUOTE.GET").inputs.find((r) => r.name === "quote_params")!;
  const [lo, hi] = params.fields!.find((f) => f.name === "quote_id")!.bits;
  // QUOTE_ID all ones: the default quote format.
  const defaultFormat = (1n << BigInt(hi - lo + 1)) - 1n;
  const inputs = {
    tdr_pa: tdr,
    quote_params: encodeBits(params.fields!, { quote_id: defaultFormat }),
    input_data_pa: inputPa,
    input_data_len: BigInt(input.length),
    hpa_linked_list_pa: node,
    buffer_len: BigInt(bufferLen),
  };
  let calls = 0;
  for (;;) {
    calls++;
    const r = p.seamcall("TDH.QUOTE.GET", inputs);
    if (r.name === "TDX_INTERRUPTED_RESUMABLE" && calls < 1000) continue;
    if (r.name !== "TDX_SUCCESS") return { status: r.name, quote: new Uint8Array(0), calls };
    const len = Number(r.out.quote_len);
    const quote = new Uint8Array(len);
    for (let done = 0, i = 0; done < len; done += page, i++) {
      quote.set(p.cpu.memory.read(pages[i], Math.min(page, len - done)), done);
    }
    return { status: r.name, quote, calls };
  }
}
