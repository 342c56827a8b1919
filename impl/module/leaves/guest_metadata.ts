// The common body of the guest's single-element metadata leaves (TDG.VM.RD/WR,
// TDG.VP.RD/WR, TDG.SYS.RD): the context code is forced to the leaf's scope, a null
// field id asks for the first readable element (reads that return a next id), the id
// must name one element, then the element is read or written with the guest's masks.
import type { Completion } from "../completion.ts";
import type { LeafContext } from "../leaf_context.ts";
import { currentGuest, guestMdContext } from "../guest_access.ts";
import {
  checkSingleElementId,
  FIELD_ID_NA,
  isNullFieldId,
  type MdContext,
  mdNextElementId,
  mdRead,
  type MdScope,
  mdWrite,
  withContext,
} from "../metadata.ts";

const GUEST = { who: "guest" } as const;

function context(ctx: LeafContext): MdContext {
  return guestMdContext(ctx, currentGuest(ctx));
}

export interface GuestRead {
  scope: MdScope;
  /** The leaf returns the next element's id in `next_field_id` (and accepts a null id). */
  returnsNext: boolean;
}

/** The write leaves' inputs (R8 is also the old-value output: read them first). */
export function writeInputs(ctx: LeafContext) {
  return { id: ctx.in("field_id"), data: ctx.in("data"), mask: ctx.in("write_mask") };
}

export function guestMetadataRead(ctx: LeafContext, opts: GuestRead): Completion {
  // RDX is both the field id and the next id: read it before the default outputs.
  const id = withContext(ctx.spec, ctx.in("field_id"), opts.scope);
  if (opts.returnsNext) ctx.out("next_field_id", FIELD_ID_NA);
  ctx.out("value", 0n);
  const c = context(ctx);
  if (opts.returnsNext && isNullFieldId(ctx.spec, id)) {
    ctx.out("next_field_id", mdNextElementId(c, opts.scope, FIELD_ID_NA, GUEST));
    return ctx.status("TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT");
  }
  const bad = checkSingleElementId(ctx.spec, id);
  if (bad) return ctx.status(bad);
  const r = mdRead(c, opts.scope, id, GUEST);
  if (r.status !== "TDX_SUCCESS") return ctx.status(r.status, r.detail);
  ctx.out("value", r.value!);
  if (opts.returnsNext) ctx.out("next_field_id", mdNextElementId(c, opts.scope, id, GUEST));
  return ctx.ok();
}

export function guestMetadataWrite(
  ctx: LeafContext,
  scope: MdScope,
  input: { id: bigint; data: bigint; mask: bigint },
): Completion {
  const c = context(ctx);
  const id = withContext(ctx.spec, input.id, scope);
  const bad = checkSingleElementId(ctx.spec, id);
  if (bad) return ctx.status(bad);
  const r = mdWrite(c, scope, id, input.data, input.mask, GUEST);
  if (r.status !== "TDX_SUCCESS") return ctx.status(r.status, r.detail);
  ctx.out("old_value", r.old!);
  return ctx.ok();
}
