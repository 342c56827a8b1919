// Test support: bringing up the 2026 extensions as Linux does after TDH.SYS.TDMR.INIT:
// TDH.EXT.MEM.ADD with as many pages as MEMORY_POOL_REQUIRED_PAGES asks for, TDH.EXT.INIT
// and TDH.QUOTE.INIT, each repeated while it reports TDX_INTERRUPTED_RESUMABLE.
import { encodeBits } from "../../spec/bits.ts";
import { parseHex } from "../../spec/hex.ts";
import type { CallResult, Platform } from "./fixture.ts";

export function quoteAddOn(p: Platform): bigint {
  return encodeBits(p.spec.bitfield("TDX_FEATURES0").fields, { QUOTE: 1n });
}

export function readGlobal(p: Platform, name: string, index = 0): bigint {
  const md = p.spec.metadataField("global", name);
  return p.seamcall("TDH.SYS.RD", { field_id: parseHex(md.field_id) + BigInt(index) }).out.value;
}

function untilDone(call: () => CallResult, what: string): CallResult {
  for (let i = 0; i < 10_000; i++) {
    const r = call();
    if (r.name !== "TDX_INTERRUPTED_RESUMABLE") {
      if (r.name !== "TDX_SUCCESS") throw new Error(`${what} failed: ${r.name}`);
      return r;
    }
  }
  throw new Error(`${what} never finished`);
}

/** An HPA_LIST page listing `pages`, and the HPA_LIST_INFO operand for it. */
export function hpaList(p: Platform, pages: bigint[]): bigint {
  const list = p.allocPage();
  const bytes = new Uint8Array(8 * pages.length);
  const view = new DataView(bytes.buffer);
  pages.forEach((pa, i) => view.setBigUint64(8 * i, pa, true));
  p.cpu.memory.write(list, bytes);
  return encodeBits(p.spec.bitfield("HPA_LIST_INFO").fields, {
    HPA_LIST_PFN: list >> 12n,
    FIRST_ENTRY: 0n,
    LAST_ENTRY: BigInt(pages.length - 1),
  });
}

/** TDH.EXT.MEM.ADD of the pages the module still needs, in lists of up to 512. */
export function addExtensionMemory(p: Platform): void {
  let missing = Number(readGlobal(p, "MEMORY_POOL_REQUIRED_PAGES"));
  while (missing > 0) {
    const n = Math.min(512, missing);
    let info = hpaList(p, Array.from({ length: n }, () => p.allocPage()));
    untilDone(() => {
      const r = p.seamcall("TDH.EXT.MEM.ADD", { hpa_list_info: info });
      if (r.name === "TDX_INTERRUPTED_RESUMABLE") info = r.out.hpa_list_info;
      return r;
    }, "TDH.EXT.MEM.ADD");
    missing -= n;
  }
}

export function initExtensions(p: Platform): void {
  untilDone(() => p.seamcall("TDH.EXT.INIT"), "TDH.EXT.INIT");
}

export function initQuoting(p: Platform): void {
  untilDone(() => p.seamcall("TDH.QUOTE.INIT"), "TDH.QUOTE.INIT");
}

/** A ready platform with the Quoting extension selected and initialised. */
export function readyWithQuoting(p: Platform): void {
  p.readyPlatform({ addOnFeatures: quoteAddOn(p) });
  addExtensionMemory(p);
  initExtensions(p);
  initQuoting(p);
}
