// TDH.EXPORT.STATE.VP: exports one paused vCPU's mutable state on a forward stream as a
// bundle of encrypted metadata-list pages and an MBMD naming the vCPU's index. The
// vCPU is associated with the calling LP, and each vCPU is exported once per session.
// Interruptible between pages.
import type { LeafContext, LeafHandler } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import { checkTdState } from "../td_gate.ts";
import { checkAndAssociateVcpu, explicitTdvpr, tdvpsComplete } from "../td_checks.ts";
import { setTdField, tdField } from "../md_fields.ts";
import type { TdState, VcpuState } from "../state.ts";
import { mbType, migLimitN } from "../migration/limits.ts";
import { encodeMbmd, macedBytes, withIvCounter, withMac } from "../migration/mbmd.ts";
import { dumpPage, VP_MUTABLE } from "../migration/md_lists.ts";
import {
  mbmdBuffer,
  migsIndexAndCmd,
  pageListInfo,
  sharedPageInvalid,
} from "../migration/operands.ts";
import {
  initMigsc,
  lockMigsc,
  migrationOf,
  type Migsc,
  setVcpuExportCount,
  vcpuExportCount,
} from "../migration/session.ts";
import { forwardLink, pageListEntry, startBundle } from "../migration/streams.ts";
import { StructCodec } from "../../spec/codec.ts";

export const tdhExportStateVp: LeafHandler = (ctx) => {
  ctx.out("num_pages", 0n);
  const tdvpr = ctx.in("tdvpr_pa");
  const r = explicitTdvpr(ctx, tdvpr, ctx.operandOf("tdvpr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const { vcpu, td } = r.value;
  const bad = checkTdState(ctx, td, "shared");
  if (bad) return bad;
  if (!tdvpsComplete(ctx, td, vcpu)) return ctx.status("TDX_TDCX_NUM_INCORRECT");
  const a = checkAndAssociateVcpu(ctx, td, vcpu, false);
  if (a.fail) return a.fail;
  if (vcpuExportCount(vcpu) === tdField(ctx, td, "EXPORT_COUNT")) {
    return ctx.status("TDX_VCPU_ALREADY_EXPORTED");
  }
  const m = migrationOf(td);
  const cmd = migsIndexAndCmd(ctx);
  if (cmd.index >= m.links.length - 1 || cmd.reservedSet) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("migs_index_and_cmd"));
  }
  const busy = lockMigsc(ctx, td, cmd.index + 1);
  if (busy) return busy;
  const link = forwardLink(m, cmd.index);
  const migsc = link.migsc;
  const list = pageListInfo(ctx);
  const r9 = ctx.operandOf("page_list_info");

  let pageIndex = 0;
  let unit = 0;
  if (!cmd.resume) {
    if (list.lastEntry < migLimitN(ctx.spec, "MIN_VP_STATE_EXPORT_PAGES") - 1 || list.reservedSet) {
      return ctx.status("TDX_OPERAND_INVALID", r9);
    }
    if (!link.initialized) {
      initMigsc(migsc, m.migEncWorkingKey);
      link.initialized = true;
    }
    startVpBundle(ctx, td, vcpu, migsc, m.migWorkingVersion, cmd.index);
  } else {
    if (!link.initialized) return ctx.status("TDX_MIGRATION_STREAM_STATE_INCORRECT");
    const saved = migsc.interrupted;
    migsc.interrupted = undefined;
    if (!saved) return ctx.status("TDX_INVALID_RESUMPTION");
    if (
      saved.func !== ctx.regs.RAX || saved.pageListInfo !== ctx.in("page_list_info") ||
      saved.tdvpr !== tdvpr
    ) {
      return ctx.status("TDX_INVALID_RESUMPTION");
    }
    pageIndex = saved.numProcessed;
    unit = Number(saved.fieldId);
  }
  if (sharedPageInvalid(ctx, list.pa)) return ctx.status("TDX_OPERAND_INVALID", r9);
  return exportPages(ctx, td, vcpu, migsc, pageIndex, unit);
};

/** The MUTABLE_VCPU_STATE bundle's MBMD and GCM start; the IV names the stream. */
function startVpBundle(
  ctx: LeafContext,
  td: TdState,
  vcpu: VcpuState,
  migsc: Migsc,
  version: bigint,
  migsIndex: number,
): void {
  migsc.interrupted = undefined;
  migsc.ivCounter += 1n;
  // The stream index is 0 in the MAC'ed MBMD and set once the MAC has started.
  const mbmd = encodeMbmd(ctx.spec, "MBMD_VP_STATE", {
    mig_version: Number(version),
    migs_index: 0,
    mb_type: mbType(ctx.spec, "MUTABLE_VCPU_STATE"),
    mb_counter: migsc.nextMbCounter,
    mig_epoch: Number(tdField(ctx, td, "MIG_EPOCH")),
    iv_counter: 0n,
  }, { vp_index: vcpu.index });
  startBundle(ctx, migsc, migsc.ivCounter, migsIndex, "encrypt").aad(macedBytes(ctx.spec, mbmd));
  const codec = new StructCodec(ctx.spec);
  const h = codec.decode("MBMD_HEADER", mbmd).value;
  const out = mbmd.slice();
  out.set(codec.encode("MBMD_HEADER", { ...h, migs_index: migsIndex }), 0);
  migsc.mbmd = withIvCounter(ctx.spec, out, migsc.ivCounter);
}

function exportPages(
  ctx: LeafContext,
  td: TdState,
  vcpu: VcpuState,
  migsc: Migsc,
  pageIndex: number,
  unit: number,
): Completion {
  const list = pageListInfo(ctx);
  const mdCtx = { spec: ctx.spec, cpu: ctx.cpu, state: ctx.state, td, vcpu };
  const mem = ctx.cpu.memory;
  for (;;) {
    const entry = pageListEntry(ctx, list.pa, pageIndex);
    if (sharedPageInvalid(ctx, entry)) {
      return ctx.status("TDX_OPERAND_INVALID", "MIG_BUFF_LIST_ENTRY");
    }
    const dump = dumpPage(mdCtx, VP_MUTABLE, unit, migrationOf(td).listCapacity);
    mem.write(entry, migsc.gcm!.update(dump.page));
    pageIndex++;
    // The module's vCPU state spans at least the pages an import needs (its extended
    // state, which the suite's spec does not describe, is part of it): the model fills
    // them with empty lists once its fields are written.
    const done = dump.next === undefined &&
      pageIndex >= migLimitN(ctx.spec, "MIN_VP_STATE_IMPORT_PAGES");
    if (done) {
      const buf = mbmdBuffer(ctx);
      if (buf.fail) return buf.fail;
      setVcpuExportCount(vcpu, tdField(ctx, td, "EXPORT_COUNT"));
      const out = withMac(ctx.spec, migsc.mbmd, migsc.gcm!.mac());
      mem.write(buf.pa, out);
      migsc.mbmd = out;
      setTdField(ctx, td, "TOTAL_MB_COUNT", tdField(ctx, td, "TOTAL_MB_COUNT") + 1n);
      migsc.nextMbCounter++;
      migsc.interrupted = undefined;
      ctx.out("num_pages", BigInt(pageIndex));
      return ctx.ok();
    }
    if (pageIndex > list.lastEntry) {
      return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("page_list_info"));
    }
    const next = dump.next ?? Number.MAX_SAFE_INTEGER;
    if (ctx.cpu.hostInterruptPending(ctx.lp.id)) {
      migsc.interrupted = {
        func: ctx.regs.RAX,
        pageListInfo: ctx.in("page_list_info"),
        numProcessed: pageIndex,
        fieldId: BigInt(next),
        sysMigrated: true,
        tdvpr: ctx.in("tdvpr_pa"),
      };
      ctx.out("num_pages", BigInt(pageIndex));
      return ctx.status("TDX_INTERRUPTED_RESUMABLE");
    }
    unit = next;
  }
}
