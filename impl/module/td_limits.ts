// The module's build-time constants for TDs and vCPUs (page counts, L2 VM limit, TSC
// range, fixed masks), read by name from spec/enum/tdx_module_limits.yaml.
import type { Spec } from "../spec/mod.ts";

export function tdxLimit(spec: Spec, name: string): bigint {
  return spec.enumValue("TDX_MODULE_LIMITS", name);
}

export function tdxLimitN(spec: Spec, name: string): number {
  return Number(tdxLimit(spec, name));
}

/** TDVPS pages (TDVPR included) a vCPU of a TD with `numL2Vms` L2 VMs needs. */
export function requiredTdvpsPages(spec: Spec, numL2Vms: number): number {
  return tdxLimitN(spec, "MIN_TDVPS_PAGES") + numL2Vms * tdxLimitN(spec, "TDVPS_PAGES_PER_L2_VM");
}

/** TDCS pages a TD with `numL2Vms` L2 VMs needs. */
export function requiredTdcsPages(spec: Spec, numL2Vms: number): number {
  return tdxLimitN(spec, "MIN_NUM_TDCS_PAGES") + numL2Vms * tdxLimitN(spec, "TDCS_PAGES_PER_L2_VM");
}
