// A destination vCPU takes the state imported with TDH.IMPORT.STATE.VP: its index and
// XFAM, registers and other fields through the vCPU metadata's own handlers (the stored
// map for the rest), the TD's TSC virtualisation in its VMCS; VCPU_STATE says whether it
// comes over disabled. The vCPU then is READY (or DISABLED) and not launched.
import type { LeafContext } from "../leaf_context.ts";
import type { TdState, VcpuState } from "../state.ts";
import { catalog } from "../metadata.ts";
import { VCPU_MD_VALUES } from "../md_values_vcpu.ts";
import { setVcpuField, tdField } from "../md_fields.ts";
import type { ImportedValues } from "./md_lists.ts";

/** vCPUs an interrupted TDH.IMPORT.STATE.VP left in VCPU_IMPORT. */
const importing = new WeakSet<VcpuState>();

export function isImporting(vcpu: VcpuState): boolean {
  return importing.has(vcpu);
}

export function markImporting(vcpu: VcpuState, on: boolean): void {
  if (on) importing.add(vcpu);
  else importing.delete(vcpu);
}

// Fields whose meaning the vCPU record holds directly.
const SPECIAL = new Set(["VCPU_STATE", "VCPU_INDEX", "XFAM", "LAST_TD_EXIT"]);

export function applyVpState(
  ctx: LeafContext,
  td: TdState,
  vcpu: VcpuState,
  got: ImportedValues,
): void {
  const cat = catalog(ctx.spec);
  const md = { spec: ctx.spec, cpu: ctx.cpu, state: ctx.state, td, vcpu };
  for (const [name, values] of got) {
    if (SPECIAL.has(name)) continue;
    const field = cat.field("vcpu", name);
    const h = VCPU_MD_VALUES[name];
    for (const [flat, v] of values) {
      const el = cat.element(field, flat);
      const value = v & field.fullMask;
      if (h?.write) h.write(md, el, value, 0n, { who: "host", debug: true });
      else vcpu.fields.set(el.id, value);
    }
  }
  vcpu.index = Number(got.get("VCPU_INDEX")?.get(0) ?? 0n);
  vcpu.xfam = td.xfam;
  vcpu.currVm = 0;
  vcpu.launched = false;
  setVcpuField(ctx, vcpu, "TSC_MULTIPLIER", tdField(ctx, td, "TSC_MULTIPLIER"));
  setVcpuField(ctx, vcpu, "TSC_OFFSET", tdField(ctx, td, "TSC_OFFSET"));
  const disabled = ctx.spec.enumValue("VCPU_STATE", "VCPU_DISABLED");
  vcpu.state = got.get("VCPU_STATE")?.get(0) === disabled ? "disabled" : "initialized";
  markImporting(vcpu, false);
}
