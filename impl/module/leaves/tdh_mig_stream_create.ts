// TDH.MIG.STREAM.CREATE: adds a migration stream context (MIGSC) page to a TD. The
// first stream becomes the backward stream (link 0), the others forward streams; the
// page is owned by the TD like a TDCS page. Stream state is initialised when a session
// first uses the stream.
import type { LeafHandler } from "../leaf_context.ts";
import { checkAndLockHpa } from "../hpa_checks.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { setTdField } from "../md_fields.ts";
import { migLimitN } from "../migration/limits.ts";
import { lockMig, migrationOf } from "../migration/session.ts";

export const tdhMigStreamCreate: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "shared");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, "exclusive");
  if (bad) return bad;
  const busy = lockMig(ctx, td);
  if (busy) return busy;
  const m = migrationOf(td);
  const index = m.links.length;
  if (index >= migLimitN(ctx.spec, "MAX_MIGS")) return ctx.status("TDX_MAX_MIGS_NUM_EXCEEDED");
  const pa = ctx.in("migsc_pa");
  const page = checkAndLockHpa(ctx, pa, ctx.operandOf("migsc_pa"), {
    expectedType: "PT_NDA",
    lock: "exclusive",
  });
  if (page.fail) return page.fail;

  ctx.cpu.memory.zeroPage(ctx.cpu.memory.withKeyId(pa, td.hkid));
  td.childCount = (td.childCount ?? 0) + 1;
  ctx.state.pamt.set(pa, { pageType: "PT_TDCX", owner: td.tdr, level: 0 });
  m.links.push({
    initialized: false,
    migsc: {
      pa,
      index,
      ivCounter: 0n,
      nextMbCounter: 0,
      expectedMbCounter: 0,
      mbmd: new Uint8Array(migLimitN(ctx.spec, "MBMD_SIZE")),
      key: new Uint8Array(32),
    },
  });
  setTdField(ctx, td, "NUM_MIGS", BigInt(m.links.length));
  return ctx.ok();
};
