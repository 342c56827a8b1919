// The module's platform build constants, by name from spec/enum/tdx_module_platform_limits.yaml.
import type { Spec } from "../spec/mod.ts";

export function platformLimit(spec: Spec, name: string): bigint {
  return spec.enumValue("TDX_MODULE_PLATFORM_LIMITS", name);
}

export function platformLimitN(spec: Spec, name: string): number {
  return Number(platformLimit(spec, name));
}
