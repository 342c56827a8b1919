// TDH.SYS.INFO: the legacy enumeration leaf. Writes TDSYSINFO_STRUCT and the 32-entry
// CMR_INFO table to two shared host buffers. The first buffer is zeroed as soon as its
// own operands pass, before the CMR buffer's are checked.
import type { LeafHandler } from "../leaf_context.ts";
import { StructCodec } from "../../spec/codec.ts";
import { sharedBufferInvalid } from "../platform_helpers.ts";
import { lpInitDone } from "../host_metadata.ts";
import { platformLimit, platformLimitN } from "../platform_limits.ts";
import { tdxLimit } from "../td_limits.ts";
import { tdConfigurability } from "../td_configurability.ts";
import { cpuidConfigurable } from "../td_params.ts";
import { sampledCpuid } from "../platform_sample.ts";

export const tdhSysInfo: LeafHandler = (ctx) => {
  // RDX and R9 are inputs and outputs: read them before the defaults go in.
  const infoPa = ctx.in("tdsysinfo_pa");
  const infoBytes = ctx.in("tdsysinfo_size");
  const cmrPa = ctx.in("cmr_info_pa");
  const cmrCount = ctx.in("num_cmr_entries");
  ctx.out("tdsysinfo_bytes", 0n);
  ctx.out("cmr_entries", 0n);
  if (!lpInitDone(ctx)) return ctx.status("TDX_SYS_LP_INIT_NOT_DONE");
  const { spec, cpu, state } = ctx;
  const infoSize = platformLimit(spec, "TDSYSINFO_STRUCT_SIZE");
  if (sharedBufferInvalid(ctx, infoPa, infoSize, infoSize)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("tdsysinfo_pa"));
  }
  if (infoBytes < infoSize) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("tdsysinfo_size"));
  }
  cpu.memory.write(infoPa, new Uint8Array(Number(infoSize)));
  const maxCmrs = platformLimit(spec, "MAX_CMRS");
  const cmrBytes = BigInt(spec.struct("CMR_INFO_ARRAY").size as number);
  if (sharedBufferInvalid(ctx, cmrPa, cmrBytes, cmrBytes)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("cmr_info_pa"));
  }
  if (cmrCount < maxCmrs) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("num_cmr_entries"));
  }

  const codec = new StructCodec(spec);
  const profile = state.profile;
  const conf = tdConfigurability(spec, cpu, state, ctx.lp.id);
  const listField = spec.struct("TDSYSINFO_STRUCT").fields.find((f) =>
    f.name === "cpuid_config_list"
  )!;
  const configs = cpuidConfigurable(spec).slice(0, listField.count);
  // Configurable bits: CONFIG_DIRECT, plus ALLOW_DIRECT where the CPU (as TDH.SYS.INIT
  // sampled it) has the bit.
  const sampled = state.platform.sampled;
  const list = configs.map((e) => {
    const native = (sampled && sampledCpuid(sampled, e.leaf, e.subleaf)) ??
      cpu.cpuidOn(ctx.lp.id, e.leaf, e.subleaf);
    const bits = (r: "eax" | "ebx" | "ecx" | "edx") =>
      (e.direct[r] | (e.allow[r] & native[r])) >>> 0;
    return {
      leaf_subleaf: { leaf: e.leaf >>> 0, subleaf: e.subleaf >>> 0 },
      values: { eax: bits("eax"), ebx: bits("ebx"), ecx: bits("ecx"), edx: bits("edx") },
    };
  });
  while (list.length < (listField.count ?? 0)) {
    list.push({
      leaf_subleaf: { leaf: 0, subleaf: 0 },
      values: { eax: 0, ebx: 0, ecx: 0, edx: 0 },
    });
  }
  const page = 4096n;
  cpu.memory.write(
    infoPa,
    codec.encode("TDSYSINFO_STRUCT", {
      attributes: 0,
      vendor_id: profile.version.vendorId,
      build_date: profile.version.buildDate,
      build_num: profile.version.buildNum,
      minor_version: profile.version.minor,
      major_version: profile.version.major,
      sys_rd: 1,
      max_tdmrs: platformLimitN(spec, "MAX_TDMRS"),
      max_reserved_per_tdmr: platformLimitN(spec, "MAX_RESERVED_PER_TDMR"),
      pamt_entry_size: platformLimitN(spec, "PAMT_ENTRY_SIZE"),
      tdcs_base_size: Number(tdxLimit(spec, "MIN_NUM_TDCS_PAGES") * page),
      tdvps_base_size: Number(tdxLimit(spec, "MIN_TDVPS_PAGES") * page),
      tdvps_xfam_dependent_size: 0,
      attributes_fixed0: conf.attributesFixed0,
      attributes_fixed1: conf.attributesFixed1,
      xfam_fixed0: conf.xfamFixed0,
      xfam_fixed1: conf.xfamFixed1,
      num_cpuid_config: configs.length,
      cpuid_config_list: list,
    }),
  );
  const cmrs = state.platform.sampled?.cmrs ?? cpu.platform.cmrs;
  cpu.memory.write(
    cmrPa,
    codec.encode("CMR_INFO_ARRAY", {
      cmr: Array.from({ length: Number(maxCmrs) }, (_, i) => ({
        cmr_base: cmrs[i]?.base ?? 0n,
        cmr_size: cmrs[i]?.size ?? 0n,
      })),
    }),
  );
  ctx.out("tdsysinfo_bytes", infoSize);
  ctx.out("cmr_entries", maxCmrs);
  return ctx.ok();
};
