// The module's live-migration constants, read by name from spec/enum/migration_limits.yaml.
import type { Spec } from "../../spec/mod.ts";

export function migLimit(spec: Spec, name: string): bigint {
  return spec.enumValue("MIGRATION_LIMITS", name);
}

export function migLimitN(spec: Spec, name: string): number {
  return Number(migLimit(spec, name));
}

/** MB_TYPE value by name (IMMUTABLE_TD_STATE, ABORT_TOKEN, ...). */
export function mbType(spec: Spec, name: string): number {
  return Number(spec.enumValue("MB_TYPE", name));
}
