// Metadata fields the TD and vCPU leaves set that have no richer home in TdState or
// VcpuState: kept in the scope's stored map under the element's canonical field id,
// where impl/module/metadata.ts reads them (TSC virtualisation, posted interrupts).
import type { LeafContext } from "./leaf_context.ts";
import { catalog } from "./metadata.ts";
import type { TdState, VcpuState } from "./state.ts";

function elementId(ctx: LeafContext, scope: "td" | "vcpu", name: string): bigint {
  const cat = catalog(ctx.spec);
  return cat.elementId(cat.field(scope, name), 0);
}

export function setTdField(ctx: LeafContext, td: TdState, name: string, value: bigint): void {
  td.fields.set(elementId(ctx, "td", name), value);
}

export function setVcpuField(ctx: LeafContext, v: VcpuState, name: string, value: bigint): void {
  v.fields.set(elementId(ctx, "vcpu", name), value);
}

export function tdField(ctx: LeafContext, td: TdState, name: string): bigint {
  return td.fields.get(elementId(ctx, "td", name)) ?? 0n;
}
