// Offsets and sizes from the spec's struct layouts, for the places KVM reads one field
// of a user structure before copying the rest (get_user of a count, then memdup_user).
import type { Spec } from "../spec/mod.ts";

export function fieldOffset(spec: Spec, struct: string, field: string): number {
  const f = spec.struct(struct).fields.find((x) => x.name === field);
  if (f?.offset === undefined) {
    throw new Error(`${struct}.${field} has no fixed offset in the spec`);
  }
  return f.offset;
}

export function fixedSize(spec: Spec, struct: string): number {
  const s = spec.struct(struct);
  if (typeof s.size !== "number") throw new Error(`${struct} has no fixed size in the spec`);
  return s.size;
}

/** Bytes of a struct ending in a kvm_cpuid2 (`field`) with `nent` entries. */
export function withCpuidSize(spec: Spec, struct: string, field: string, nent: number): number {
  return fieldOffset(spec, struct, field) + fieldOffset(spec, "kvm_cpuid2", "entries") +
    nent * fixedSize(spec, "kvm_cpuid_entry2");
}
