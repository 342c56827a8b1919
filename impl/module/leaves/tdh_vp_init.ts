// TDH.VP.INIT: gives a created vCPU with all its TDVPS pages its VCPU_INDEX and
// architectural reset state, makes it READY and associates it with the calling LP.
// Version 1 also takes the vCPU's x2APIC ID.
import type { LeafHandler } from "../leaf_context.ts";
import { decodeBits } from "../../spec/bits.ts";
import { checkTdState } from "../td_gate.ts";
import { associateVcpu, explicitTdvpr, tdvpsComplete } from "../td_checks.ts";
import { tdxLimit } from "../td_limits.ts";
import { tscAdjustConsistent, tscOf } from "../lp_msrs.ts";
import { setVcpuField, tdField } from "../md_fields.ts";
import { sampledCpuid } from "../platform_sample.ts";

export const tdhVpInit: LeafHandler = (ctx) => {
  const r = explicitTdvpr(ctx, ctx.in("tdvpr_pa"), ctx.operandOf("tdvpr_pa"), "exclusive");
  if (r.fail) return r.fail;
  const { vcpu, td } = r.value;
  const bad = checkTdState(ctx, td, "shared");
  if (bad) return bad;
  if (!tdvpsComplete(ctx, td, vcpu)) return ctx.status("TDX_TDCX_NUM_INCORRECT");
  if (vcpu.state !== "created") return ctx.status("TDX_VCPU_STATE_INCORRECT");

  const index = td.numVcpus ?? 0;
  if (index >= td.maxVcpus) return ctx.status("TDX_MAX_VCPUS_EXCEEDED");
  // The index is taken before the TSC check, so a failure there still consumes it.
  td.numVcpus = index + 1;
  if (!tscAdjustConsistent(ctx)) {
    return ctx.status("TDX_INCONSISTENT_MSR", ctx.cpu.msrs.index("IA32_TSC_ADJUST"));
  }

  vcpu.index = index;
  vcpu.lastExitTsc = tscOf(ctx);
  vcpu.xfam = td.xfam;
  vcpu.currVm = 0;
  if (ctx.version >= 1) vcpu.x2apicId = ctx.in("x2apic_id");
  const initialRcx = ctx.in("initial_rcx");
  const gpaw = decodeBits(ctx.spec.bitfield("CONFIG_FLAGS").fields, td.configFlags ?? 0n)
    .fields.GPAW === 1n;
  const versionLeaf = Number(ctx.spec.enumValue("CPUID_LEAF", "VERSION_INFO"));
  // The module's CPUID(1).EAX: the platform's FMS with the fixed bits applied.
  const sampled = ctx.state.platform.sampled;
  const fms = (sampled && sampledCpuid(sampled, versionLeaf, 0))?.eax ??
    ctx.cpu.cpuidOn(ctx.lp.id, versionLeaf, 0).eax;
  vcpu.gprs.clear();
  vcpu.gprs.set("RBX", tdxLimit(ctx.spec, gpaw ? "MAX_PA_FOR_GPAW" : "MAX_PA_FOR_GPA_NOT_WIDE"));
  vcpu.gprs.set("RCX", initialRcx);
  vcpu.gprs.set("R8", initialRcx);
  vcpu.gprs.set("RDX", BigInt(fms >>> 0));
  vcpu.gprs.set("RSI", BigInt(index));
  // The TD VMCS: the TD's TSC virtualisation; posted interrupts not set up yet.
  setVcpuField(ctx, vcpu, "TSC_MULTIPLIER", tdField(ctx, td, "TSC_MULTIPLIER"));
  setVcpuField(ctx, vcpu, "TSC_OFFSET", tdField(ctx, td, "TSC_OFFSET"));
  setVcpuField(
    ctx,
    vcpu,
    "POSTED_INTR_NV",
    tdxLimit(ctx.spec, "POSTED_INTERRUPT_NOTIFICATION_VECTOR_INIT"),
  );
  setVcpuField(ctx, vcpu, "POSTED_INTR_DESC_ADDR", 0xFFFF_FFFF_FFFF_FFFFn);
  vcpu.state = "initialized";
  vcpu.lastTdExit = "LAST_EXIT_ASYNC_FAULT";
  vcpu.launched = false;
  associateVcpu(ctx, td, vcpu);
  return ctx.ok();
};
