// TDH.SYS.RDALL: dumps host-readable global metadata, from a given field, into a
// metadata list in a shared 4 KiB host buffer.
import type { LeafHandler } from "../leaf_context.ts";
import { FIELD_ID_NA, mdDumpList, withContext } from "../metadata.ts";
import { HOST_READ, hostMdContext, lpInitDone } from "../host_metadata.ts";
import { sharedBufferInvalid } from "../platform_helpers.ts";

export const tdhSysRdall: LeafHandler = (ctx) => {
  // R8 is both the input id and the output next id: read it before the default goes in.
  const start = withContext(ctx.spec, ctx.in("field_id"), "global");
  ctx.out("next_field_id", FIELD_ID_NA);
  if (!lpInitDone(ctx)) return ctx.status("TDX_SYS_LP_INIT_NOT_DONE");
  const page = ctx.leaf.memory_operands![0];
  const pa = ctx.in("md_list_pa");
  const size = BigInt(page.size);
  if (sharedBufferInvalid(ctx, pa, BigInt(page.alignment), size)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("md_list_pa"));
  }
  const limit = Math.min(page.size, ctx.state.profile.mdListBytes);
  const r = mdDumpList(hostMdContext(ctx), "global", start, HOST_READ, limit);
  if (r.list) ctx.cpu.memory.write(pa, r.list);
  ctx.out("next_field_id", r.next);
  return ctx.status(r.status);
};
