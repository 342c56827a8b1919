// TDH.QUOTE.GET (2026 Quoting extension, provisional): produces a quote for a TD from the
// input data its guest supplied (normally a TDREPORT) and writes it to host pages listed
// in an HPA_LINKED_LIST. The quote comes from the configured QuoteSigner; without one,
// or before TDH.QUOTE.INIT, quoting is unavailable. A pending host interrupt stops it once
// the quote is signed and between output pages; the host calls again with the same registers.
import type { LeafHandler } from "../leaf_context.ts";
import { extensionsSupported, hasFeature } from "../extensions.ts";
import { checkAndLockHpa } from "../hpa_checks.ts";
import { sharedBufferInvalid } from "../platform_helpers.ts";

const PAGE = 4096n;
const END = 0xFFFF_FFFF_FFFF_FFFFn;

/** The output pages an HPA_LINKED_LIST describes, or undefined if a node or page is invalid. */
function outputPages(
  ctx: Parameters<LeafHandler>[0],
  first: bigint,
): bigint[] | undefined {
  const node = ctx.spec.struct("HPA_LINKED_LIST_NODE");
  const perNode = node.fields.find((f) => f.name === "hpa")!.count!;
  const pages: bigint[] = [];
  const seen = new Set<bigint>();
  let at = first;
  while (at !== END) {
    if (seen.has(at) || sharedBufferInvalid(ctx, at, PAGE, PAGE)) return undefined;
    seen.add(at);
    const view = new DataView(ctx.cpu.memory.read(at, Number(PAGE)).buffer);
    let ended = false;
    for (let i = 0; i < perNode; i++) {
      const pa = view.getBigUint64(8 * i, true);
      if (pa === END) {
        ended = true;
        break;
      }
      if (sharedBufferInvalid(ctx, pa, PAGE, PAGE)) return undefined;
      pages.push(pa);
    }
    at = ended ? END : view.getBigUint64(8 * perNode, true);
  }
  return pages;
}

export const tdhQuoteGet: LeafHandler = (ctx) => {
  const s = ctx.state;
  if (!extensionsSupported(s) || !hasFeature(s, "QUOTE")) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("leaf_and_version"));
  }
  if (!s.platform.extensions.quoteInitialized || !s.quoteSigner) {
    return ctx.status("TDX_SYS_STATE_INCORRECT");
  }
  const tdr = ctx.in("tdr_pa");
  const r = checkAndLockHpa(ctx, tdr, ctx.operandOf("tdr_pa"), {
    expectedType: "PT_TDR",
    lock: "shared",
  });
  if (r.fail) return r.fail;
  const td = s.tds.get(tdr);
  if (!td || td.lifecycle !== "TD_KEYS_CONFIGURED") {
    return ctx.status("TDX_LIFECYCLE_STATE_INCORRECT");
  }
  const params = ctx.inFields("quote_params");
  if (params.unknown_low !== 0n || params.unknown_high !== 0n || params.quote_id !== 0xFFFFn) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("quote_params"));
  }
  const inPa = ctx.in("input_data_pa");
  if (sharedBufferInvalid(ctx, inPa, PAGE, PAGE)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("input_data_pa"));
  }
  const inLen = ctx.in("input_data_len");
  if (inLen === 0n || inLen > PAGE) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("input_data_len"));
  }
  const listPa = ctx.in("hpa_linked_list_pa");
  const bufLen = ctx.in("buffer_len");
  const pages = outputPages(ctx, listPa);
  if (!pages || BigInt(pages.length) * PAGE < bufLen) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("hpa_linked_list_pa"));
  }
  if (bufLen < BigInt(s.profile.extensions.maxQuoteSize)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("buffer_len"));
  }
  // A call with the same inputs as an interrupted one carries on where it stopped.
  const key = [tdr, params.quote_id, inPa, inLen, listPa, bufLen].join(":");
  let job = s.quoteInProgress;
  let signedNow = false;
  if (!job || job.key !== key) {
    const quote = s.quoteSigner.sign(ctx.cpu.memory.read(inPa, Number(inLen)));
    job = { key, quote, written: 0 };
    signedNow = true;
  }
  s.quoteInProgress = undefined;
  if (BigInt(job.quote.length) > bufLen) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("buffer_len"));
  }
  // Signing is the long step: a host interrupt pending once it is done stops the call
  // before any output, and the same call again only writes the quote out.
  if (signedNow && ctx.cpu.hostInterruptPending(ctx.lp.id)) {
    s.quoteInProgress = job;
    return ctx.status("TDX_INTERRUPTED_RESUMABLE");
  }
  const page = Number(PAGE);
  while (job.written < job.quote.length) {
    const i = job.written / page;
    ctx.cpu.memory.write(pages[i], job.quote.subarray(job.written, job.written + page));
    job.written = Math.min(job.quote.length, job.written + page);
    if (job.written < job.quote.length && ctx.cpu.hostInterruptPending(ctx.lp.id)) {
      s.quoteInProgress = job;
      return ctx.status("TDX_INTERRUPTED_RESUMABLE");
    }
  }
  ctx.out("quote_len", BigInt(job.quote.length));
  return ctx.ok();
};
