// TDH.MNG.INIT: reads TD_PARAMS from shared memory and, when every check passes,
// gives the TD its immutable configuration, starts MRTD and makes it INITIALIZED.
import { createHash } from "node:crypto";
import type { LeafContext, LeafHandler } from "../leaf_context.ts";
import { StructCodec } from "../../spec/codec.ts";
import { sharedHpaInvalid } from "../hpa_checks.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { evaluateTdParams } from "../td_params.ts";
import { tdParamsEnv } from "../td_configurability.ts";
import { tdxLimit } from "../td_limits.ts";
import { setTdField } from "../md_fields.ts";

export const tdhMngInit: LeafHandler = (ctx) => {
  const tdrPa = ctx.in("tdr_pa");
  const paramsPa = ctx.in("td_params_pa");
  // RCX only carries a rejected CPUID leaf back; it starts out 0.
  ctx.out("cpuid_leaf_subleaf", 0n);
  const misc = ctx.cpu.msrs.decode(
    "IA32_MISC_ENABLE",
    ctx.cpu.rdmsrNamed(ctx.lp.id, "IA32_MISC_ENABLE") ?? 0n,
  );
  if (misc.LIMIT_CPUID_MAXVAL === 1n) return ctx.status("TDX_LIMIT_CPUID_MAXVAL_SET");

  const r = checkTdr(ctx, tdrPa, ctx.operandOf("tdr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, undefined);
  if (bad) return bad;

  const params = ctx.leaf.memory_operands!.find((m) => m.name === "td_params")!;
  const size = BigInt(params.size);
  if (
    sharedHpaInvalid(ctx, paramsPa, size, BigInt(params.alignment)) || inSeamrr(ctx, paramsPa, size)
  ) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("td_params_pa"));
  }
  const bytes = ctx.cpu.memory.read(paramsPa, params.size);
  const decoded = new StructCodec(ctx.spec).decode(params.struct!, bytes).value;

  const verdict = evaluateTdParams(ctx.spec, decoded, tdParamsEnv(ctx, td));
  if (!verdict.ok) {
    if (verdict.rcx !== undefined) ctx.out("cpuid_leaf_subleaf", verdict.rcx);
    return ctx.status(verdict.status, verdict.detail);
  }

  const c = verdict.config;
  td.params = decoded;
  td.attributes = c.attributes;
  td.xfam = c.xfam;
  td.maxVcpus = c.maxVcpus;
  td.numL2Vms = c.numL2Vms;
  td.configFlags = c.configFlags;
  td.eptp = c.eptp;
  td.septRoot = td.tdcx[Number(tdxLimit(ctx.spec, "SEPT_ROOT_PAGE_INDEX"))];
  td.tscFrequency = c.tscFrequency;
  td.mrconfigid = c.mrconfigid;
  td.mrowner = c.mrowner;
  td.mrownerconfig = c.mrownerconfig;
  td.cpuid = c.cpuid;
  td.ia32ArchCapabilities = c.ia32ArchCapabilities;
  setTdField(ctx, td, "TSC_MULTIPLIER", c.tscMultiplier);
  setTdField(ctx, td, "TSC_OFFSET", c.tscOffset);
  td.numVcpus = 0;
  td.vcpusAssociated.clear();
  td.epoch = 1n;
  td.mrtdHash = createHash("sha384");
  td.mrtd = undefined;
  td.rtmr = td.rtmr.map(() => new Uint8Array(48));
  td.opState = "OP_STATE_INITIALIZED";
  return ctx.ok();
};

/** The buffer overlaps the SEAM range (the module's own memory). */
function inSeamrr(ctx: LeafContext, pa: bigint, size: bigint): boolean {
  const seamrr = ctx.state.platform.sampled?.seamrr ?? ctx.cpu.platform.seamrr;
  const addr = ctx.cpu.memory.split(pa).addr;
  return addr < seamrr.base + seamrr.size && addr + size > seamrr.base;
}
