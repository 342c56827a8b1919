// TDH.SYS.CONFIG: records the host's TDMRs (read from shared memory as an array of
// TDMR_INFO addresses), their PAMT and reserved areas, and the module's global private
// HKID, after every LP has done TDH.SYS.LP.INIT. Version 1 also selects add-on features
// (2026 extensions) with a TDX_FEATURES0-format bitmap in R9.
import type { LeafHandler } from "../leaf_context.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { faultCompletion, lockGlobal, sharedBufferInvalid } from "../platform_helpers.ts";
import { platformLimit } from "../platform_limits.ts";
import { checkTdmr, type TdmrEntry } from "../tdmr_checks.ts";
import { addOnFeaturesInvalid, extensionsSupported } from "../extensions.ts";
import { completeCpuidHandling } from "../platform_sample.ts";

function toEntry(d: DecodedStruct): TdmrEntry {
  const u = (k: string) => d[k] as bigint;
  return {
    base: u("tdmr_base"),
    size: u("tdmr_size"),
    pamt1gBase: u("pamt_1g_base"),
    pamt1gSize: u("pamt_1g_size"),
    pamt2mBase: u("pamt_2m_base"),
    pamt2mSize: u("pamt_2m_size"),
    pamt4kBase: u("pamt_4k_base"),
    pamt4kSize: u("pamt_4k_size"),
    reserved: (d.reserved_areas as DecodedStruct[]).map((r) => ({
      offset: r.offset as bigint,
      size: r.size as bigint,
    })),
  };
}

export const tdhSysConfig: LeafHandler = (ctx) => {
  // Version 1 exists only in builds with the extensions.
  if (ctx.version >= 1 && !extensionsSupported(ctx.state)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("leaf_and_version"));
  }
  const busy = lockGlobal(ctx, "exclusive");
  if (busy) return busy;
  const p = ctx.state.platform;
  const s = p.sampled;
  if (p.sysState !== "SYSINIT_DONE" || !s || p.lpInitialized.size < s.numLps) {
    return ctx.status("TDX_SYS_CONFIG_NOT_PENDING");
  }
  const align = platformLimit(ctx.spec, "TDMR_INFO_ALIGNMENT");
  const arrayPa = ctx.in("tdmr_info_pa_array");
  if (sharedBufferInvalid(ctx, arrayPa, align, align)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("tdmr_info_pa_array"));
  }
  const n = ctx.in("num_tdmr_entries");
  if (n > platformLimit(ctx.spec, "MAX_TDMRS") || n < 1n) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("num_tdmr_entries"));
  }
  const hkidIn = ctx.inFields("global_private_hkid");
  const hkid = Number(hkidIn.hkid);
  if (hkidIn.reserved !== 0n || hkid < s.privateHkidMin || hkid > s.privateHkidMax) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("global_private_hkid"));
  }
  const addOn = ctx.version >= 1 ? ctx.in("addon_features0") : 0n;
  if (addOnFeaturesInvalid(ctx, addOn)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("addon_features0"));
  }
  // The module reserves its HKID before it looks at the TDMRs (and keeps it on failure).
  ctx.state.kot.set(hkid, "HKID_RESERVED");
  p.globalHkid = hkid;

  const mem = ctx.cpu.memory;
  const codec = new StructCodec(ctx.spec);
  const infoSize = ctx.spec.struct("TDMR_INFO").size as number;
  const pointers = new DataView(mem.read(arrayPa, Number(n) * 8).buffer);
  const entries: TdmrEntry[] = [];
  const env = { spec: ctx.spec, maxPa: s.maxPa, hkidStartBit: s.hkidStartBit, cmrs: s.cmrs };
  for (let i = 0; i < Number(n); i++) {
    const infoPa = pointers.getBigUint64(i * 8, true);
    if (sharedBufferInvalid(ctx, infoPa, align, align)) {
      return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("tdmr_info_pa_array"));
    }
    entries.push(toEntry(codec.decode("TDMR_INFO", mem.read(infoPa, infoSize)).value));
    const fault = checkTdmr(env, entries, i);
    if (fault) return faultCompletion(ctx, fault);
  }
  p.tdmrs = entries.map((e) => ({
    base: e.base,
    size: e.size,
    pamt4kBase: e.pamt4kBase,
    pamt4kSize: e.pamt4kSize,
    pamt2mBase: e.pamt2mBase,
    pamt2mSize: e.pamt2mSize,
    pamt1gBase: e.pamt1gBase,
    pamt1gSize: e.pamt1gSize,
    reserved: e.reserved.filter((r) => r.size !== 0n),
    initialized: 0n,
  }));
  p.addOnFeatures = addOn;
  completeCpuidHandling(ctx.spec, s);
  p.packagesKeyConfigured.clear();
  p.sysState = "SYSCONFIG_DONE";
  return ctx.ok();
};
