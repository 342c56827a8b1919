// The metadata part TDH.MNG.RD/WR and TDH.VP.RD/WR share once the TD (and vCPU) checks
// passed: the context code forced to the leaf's scope, version 1's "first field" and
// "next field" protocol, the single-element id check, then the element read or
// written through impl/module/metadata.ts with the host's access rights.
import type { Completion } from "./completion.ts";
import type { LeafContext } from "./leaf_context.ts";
import {
  checkSingleElementId,
  FIELD_ID_NA,
  isNullFieldId,
  type MdAccess,
  type MdContext,
  mdNextElementId,
  mdRead,
  type MdScope,
  mdWrite,
  tdIsDebug,
  withContext,
} from "./metadata.ts";
import type { TdState, VcpuState } from "./state.ts";

function context(ctx: LeafContext, td: TdState, vcpu?: VcpuState): MdContext {
  return {
    spec: ctx.spec,
    cpu: ctx.cpu,
    state: ctx.state,
    td,
    vcpu,
    lock: (resource) => ctx.state.locks.tryAcquire(resource, "exclusive", ctx.owner),
  };
}

function hostAccess(ctx: LeafContext, td: TdState): MdAccess {
  return { who: "host", debug: tdIsDebug(ctx.spec, td), finalized: td.finalized };
}

/** TDH.MNG.RD / TDH.VP.RD after the state checks; `fieldId` is the caller's RDX. */
export function hostMdRead(
  ctx: LeafContext,
  scope: MdScope,
  fieldId: bigint,
  td: TdState,
  vcpu?: VcpuState,
): Completion {
  const c = context(ctx, td, vcpu);
  const access = hostAccess(ctx, td);
  const id = withContext(ctx.spec, fieldId, scope);
  if (ctx.version > 0 && isNullFieldId(ctx.spec, id)) {
    ctx.out("next_field_id", mdNextElementId(c, scope, FIELD_ID_NA, access));
    return ctx.status("TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT");
  }
  const bad = checkSingleElementId(ctx.spec, id);
  if (bad) return ctx.status(bad);
  const r = mdRead(c, scope, id, access);
  if (r.status !== "TDX_SUCCESS") return ctx.status(r.status, r.detail);
  if (ctx.version > 0) ctx.out("next_field_id", mdNextElementId(c, scope, id, access));
  ctx.out("value", r.value!);
  return ctx.ok();
}

/** TDH.MNG.WR / TDH.VP.WR after the state checks. */
export function hostMdWrite(
  ctx: LeafContext,
  scope: MdScope,
  fieldId: bigint,
  value: bigint,
  mask: bigint,
  td: TdState,
  vcpu?: VcpuState,
): Completion {
  const c = context(ctx, td, vcpu);
  const id = withContext(ctx.spec, fieldId, scope);
  const bad = checkSingleElementId(ctx.spec, id);
  if (bad) return ctx.status(bad);
  const r = mdWrite(c, scope, id, value, mask, hostAccess(ctx, td));
  if (r.status !== "TDX_SUCCESS") return ctx.status(r.status, r.detail);
  ctx.out("old_value", r.old!);
  return ctx.ok();
}

/** The outputs a read starts with: R8 = 0 and, for version 1, RDX = the "no field" id. */
export function resetReadOutputs(ctx: LeafContext): void {
  if (ctx.version > 0) ctx.out("next_field_id", FIELD_ID_NA);
  ctx.out("value", 0n);
}
