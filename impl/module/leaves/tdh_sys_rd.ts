// TDH.SYS.RD: reads one host-readable global metadata element and returns the id of
// the next one (a null id asks for the first).
import type { LeafHandler } from "../leaf_context.ts";
import {
  checkSingleElementId,
  FIELD_ID_NA,
  isNullFieldId,
  mdNextElementId,
  mdRead,
  withContext,
} from "../metadata.ts";
import { HOST_READ, hostMdContext, lpInitDone } from "../host_metadata.ts";

export const tdhSysRd: LeafHandler = (ctx) => {
  // RDX is both the input id and the output next id: read it before the defaults go in.
  const id = withContext(ctx.spec, ctx.in("field_id"), "global");
  ctx.out("next_field_id", FIELD_ID_NA);
  ctx.out("value", 0n);
  if (!lpInitDone(ctx)) return ctx.status("TDX_SYS_LP_INIT_NOT_DONE");
  const c = hostMdContext(ctx);
  if (isNullFieldId(ctx.spec, id)) {
    ctx.out("next_field_id", mdNextElementId(c, "global", FIELD_ID_NA, HOST_READ));
    return ctx.status("TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT");
  }
  const bad = checkSingleElementId(ctx.spec, id);
  if (bad) return ctx.status(bad);
  const r = mdRead(c, "global", id, HOST_READ);
  if (r.status !== "TDX_SUCCESS") return ctx.status(r.status, r.detail);
  ctx.out("value", r.value!);
  ctx.out("next_field_id", mdNextElementId(c, "global", id, HOST_READ));
  return ctx.ok();
};
