// TDH.IMPORT.STATE.VP: imports one vCPU's state (a bundle on a forward stream) into a
// vCPU the host created with TDH.VP.CREATE / TDH.VP.ADDCX in STATE_IMPORT. The MBMD must
// be the stream's next bundle of the current epoch; pages are decrypted and parsed, the
// MAC verified, held parse errors reported, and the TD's count of imported vCPUs checked.
// Interruptible between pages (the vCPU then stays in VCPU_IMPORT). Once the vCPU's
// import starts, every failure ends the session (fatal bit).
import type { LeafContext, LeafHandler } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import { checkTdState } from "../td_gate.ts";
import { associateVcpu, explicitTdvpr, tdvpsComplete } from "../td_checks.ts";
import { setTdField, tdField } from "../md_fields.ts";
import type { TdState, VcpuState } from "../state.ts";
import { mbType, migLimitN } from "../migration/limits.ts";
import { decodeMbmd, macedBytes, mbmdHeader } from "../migration/mbmd.ts";
import { VP_MUTABLE } from "../migration/md_lists.ts";
import { mbmdBuffer, migsIndexAndCmd } from "../migration/operands.ts";
import {
  initMigsc,
  lockMigsc,
  migrationOf,
  type Migsc,
  type MigscLink,
  type TdMigration,
} from "../migration/session.ts";
import { forwardLink, startBundle } from "../migration/streams.ts";
import { failImport } from "../migration/import_failure.ts";
import { closeStateBundle, importStatePages } from "../migration/state_pages.ts";
import { applyVpState, isImporting, markImporting } from "../migration/vp_import.ts";
import { StructCodec } from "../../spec/codec.ts";

export const tdhImportStateVp: LeafHandler = (ctx) => {
  // RCX carries the TDVPR in and extended error information out.
  const original = { rcx: ctx.regs.RCX, rdx: ctx.regs.RDX };
  const tdvpr = ctx.in("tdvpr_pa");
  ctx.out("ext_error_info_0", 0n);
  ctx.out("ext_error_info_1", 0n);
  const r = explicitTdvpr(ctx, tdvpr, ctx.operandOf("tdvpr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const { vcpu, td } = r.value;
  const bad = checkTdState(ctx, td, "shared");
  if (bad) return bad;
  if (!tdvpsComplete(ctx, td, vcpu)) return ctx.status("TDX_TDCX_NUM_INCORRECT");
  const m = migrationOf(td);
  const cmd = migsIndexAndCmd(ctx);
  if (cmd.index >= m.links.length - 1 || cmd.reservedSet) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("migs_index_and_cmd"));
  }
  const busy = lockMigsc(ctx, td, cmd.index + 1);
  if (busy) return busy;
  const link = forwardLink(m, cmd.index);
  const migsc = link.migsc;

  let pageIndex = 0;
  if (!cmd.resume) {
    const fail = start(ctx, td, vcpu, m, link, cmd.index);
    if (fail) return fail;
  } else {
    const saved = migsc.interrupted;
    migsc.interrupted = undefined;
    if (!saved) return ctx.status("TDX_INVALID_RESUMPTION");
    if (
      saved.func !== ctx.regs.RAX || saved.pageListInfo !== ctx.in("page_list_info") ||
      saved.tdvpr !== tdvpr
    ) {
      return failImport(ctx, td, "TDX_INVALID_RESUMPTION");
    }
    if (!isImporting(vcpu) && vcpu.state !== "disabled") {
      return failImport(ctx, td, "TDX_VCPU_STATE_INCORRECT");
    }
    const a = associateVcpu(ctx, td, vcpu);
    if (a.fail) return failImport(ctx, td, a.fail.name);
    pageIndex = saved.numProcessed;
  }
  const stopped = importStatePages(ctx, td, migsc, {
    minLastEntry: migLimitN(ctx.spec, "MIN_VP_STATE_IMPORT_PAGES") - 1,
    firstEntry: pageIndex,
    pageScope: () => ({ scope: "vcpu", into: migsc.imported! }),
    saved: () => ({ sysMigrated: true, tdvpr }),
    // Not usable until the import completes (a disabled vCPU stays disabled).
    onInterrupt: () => {
      if (vcpu.state !== "disabled") markImporting(vcpu, true);
    },
    original,
  });
  if (stopped) return stopped;
  return finish(ctx, td, vcpu, migsc);
};

/** The new command: the vCPU is uninitialised and the MBMD the stream's next bundle. */
function start(
  ctx: LeafContext,
  td: TdState,
  vcpu: VcpuState,
  m: TdMigration,
  link: MigscLink,
  migsIndex: number,
): Completion | undefined {
  const migsc = link.migsc;
  if (!link.initialized) {
    link.initialized = true;
    initMigsc(migsc, m.migDecWorkingKey);
  }
  migsc.interrupted = undefined;
  if (vcpu.state !== "created" || isImporting(vcpu)) {
    return failImport(ctx, td, "TDX_VCPU_STATE_INCORRECT");
  }
  const buf = mbmdBuffer(ctx);
  if (buf.fail) {
    return failImport(ctx, td, "TDX_OPERAND_INVALID", ctx.operandOf("mbmd_hpa_and_size"));
  }
  migsc.mbmd = ctx.cpu.memory.read(buf.pa, migLimitN(ctx.spec, "MBMD_SIZE"));
  const d = decodeMbmd(ctx.spec, "MBMD_VP_STATE", migsc.mbmd);
  const h = mbmdHeader(d);
  const zero = (b: unknown) => (b as Uint8Array).every((x) => x === 0);
  if (
    BigInt(h.mig_version as number) !== m.migWorkingVersion ||
    h.size !== migLimitN(ctx.spec, "MBMD_SIZE") || h.migs_index !== migsIndex ||
    h.mb_type !== mbType(ctx.spec, "MUTABLE_VCPU_STATE") || !zero(h.reserved_1) ||
    h.mb_counter !== migsc.expectedMbCounter ||
    BigInt(h.mig_epoch as number) !== tdField(ctx, td, "MIG_EPOCH") || !zero(d.reserved)
  ) {
    return failImport(ctx, td, "TDX_INVALID_MBMD");
  }
  // The MAC covers the MBMD with stream index 0 (it is in the IV instead).
  const codec = new StructCodec(ctx.spec);
  const maced = migsc.mbmd.slice();
  maced.set(codec.encode("MBMD_HEADER", { ...h, migs_index: 0 }), 0);
  startBundle(ctx, migsc, h.iv_counter as bigint, migsIndex, "decrypt")
    .aad(macedBytes(ctx.spec, maced));
  associateVcpu(ctx, td, vcpu);
  migsc.expectedMbCounter++;
  migsc.stickyStatus = undefined;
  migsc.imported = new Map();
  return undefined;
}

function finish(ctx: LeafContext, td: TdState, vcpu: VcpuState, migsc: Migsc): Completion {
  const closed = closeStateBundle(ctx, td, migsc, VP_MUTABLE);
  if (closed) return closed;
  const migrated = tdField(ctx, td, "NUM_MIGRATED_VCPUS");
  setTdField(ctx, td, "NUM_MIGRATED_VCPUS", migrated + 1n);
  if (migrated >= BigInt(td.numVcpus ?? 0)) return failImport(ctx, td, "TDX_ALL_VCPUS_IMPORTED");
  applyVpState(ctx, td, vcpu, migsc.imported!);
  setTdField(ctx, td, "TOTAL_MB_COUNT", tdField(ctx, td, "TOTAL_MB_COUNT") + 1n);
  return ctx.ok();
}
