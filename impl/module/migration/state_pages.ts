// The part TDH.IMPORT.STATE.IMMUTABLE, .TD and .VP share: decrypting the state bundle's
// list pages in order, parsing each into the stream's imported values (the first parse
// error is held, reported only once the MAC is known good), stopping between pages for
// a pending host interrupt, and closing the bundle: required fields, MAC, held error.
import type { LeafContext } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import type { MdScope } from "../metadata.ts";
import type { TdState } from "../state.ts";
import { macOf } from "./mbmd.ts";
import { type FieldSet, missingRequiredField, parseImmutablePage } from "./md_lists.ts";
import { pageListInfo, sharedPageInvalid } from "./operands.ts";
import type { InterruptedState, Migsc } from "./session.ts";
import { pageListEntry } from "./streams.ts";
import { failImport } from "./import_failure.ts";

export interface StatePages {
  /** The fewest list entries the bundle may have, less one (LAST_ENTRY's minimum). */
  minLastEntry: number;
  /** The entry to start from (0, or where an interrupted call stopped). */
  firstEntry: number;
  /** The metadata scope of list entry `i` and where its values go. */
  pageScope: (i: number) => { scope: MdScope; into: Map<string, Map<number, bigint>> };
  /** What the resumption must know besides the common fields. */
  saved: (numProcessed: number) => Pick<InterruptedState, "sysMigrated" | "tdvpr">;
  /** Runs when the call stops for an interrupt (before it returns). */
  onInterrupt?: () => void;
  /** RCX and RDX as the caller gave them: an interrupted call hands them back. */
  original: { rcx: bigint; rdx: bigint };
}

/** Reads the bundle's pages; undefined when all were read, else the call's completion. */
export function importStatePages(
  ctx: LeafContext,
  td: TdState,
  migsc: Migsc,
  o: StatePages,
): Completion | undefined {
  const list = pageListInfo(ctx);
  if (list.lastEntry < o.minLastEntry || list.reservedSet || sharedPageInvalid(ctx, list.pa)) {
    return failImport(ctx, td, "TDX_OPERAND_INVALID", ctx.operandOf("page_list_info"));
  }
  let i = o.firstEntry;
  do {
    const entry = pageListEntry(ctx, list.pa, i);
    if (sharedPageInvalid(ctx, entry)) return failImport(ctx, td, "TDX_OPERAND_INVALID", "PAGE");
    const page = migsc.gcm!.update(ctx.cpu.memory.read(entry, 4096));
    const { scope, into } = o.pageScope(i);
    const err = parseImmutablePage(ctx.spec, scope, page, into);
    if (err && !migsc.stickyStatus) {
      migsc.stickyStatus = { name: err.status, detail: err.detail, ext: err.ext };
    }
    i++;
    if (i <= list.lastEntry && ctx.cpu.hostInterruptPending(ctx.lp.id)) {
      migsc.interrupted = {
        func: ctx.regs.RAX,
        pageListInfo: ctx.in("page_list_info"),
        numProcessed: i,
        fieldId: 0n,
        ...o.saved(i),
      };
      o.onInterrupt?.();
      ctx.regs.RCX = o.original.rcx;
      ctx.regs.RDX = o.original.rdx;
      return ctx.status("TDX_INTERRUPTED_RESUMABLE");
    }
  } while (i <= list.lastEntry);
  return undefined;
}

/**
 * Closes the bundle: a missing required field of `fields` is held like a parse error, a
 * bad MAC fails first, then the held error (with its extended information in RCX/RDX).
 * Undefined when the state may be applied.
 */
export function closeStateBundle(
  ctx: LeafContext,
  td: TdState,
  migsc: Migsc,
  fields: FieldSet | undefined,
): Completion | undefined {
  if (!migsc.stickyStatus) {
    const missing = missingRequiredField(ctx.spec, migsc.imported!, fields);
    if (missing) {
      migsc.stickyStatus = {
        name: "TDX_REQUIRED_METADATA_FIELD_MISSING",
        ext: [missing.baseId, 0n],
      };
    }
  }
  if (!migsc.gcm!.verify(macOf(ctx.spec, migsc.mbmd))) {
    return failImport(ctx, td, "TDX_INCORRECT_MBMD_MAC");
  }
  const sticky = migsc.stickyStatus;
  if (!sticky) return undefined;
  ctx.out("ext_error_info_0", sticky.ext[0]);
  ctx.out("ext_error_info_1", sticky.ext[1]);
  return failImport(ctx, td, sticky.name, sticky.detail);
}
