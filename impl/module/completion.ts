// Completion statuses as values: a status named in spec/status with its detail
// (usually an OPERAND_ID from spec/enum/operand_id.yaml) in bits 31:0.
import type { Spec } from "../spec/mod.ts";
import { decodeBits } from "../spec/bits.ts";

export interface Completion {
  /** The 64-bit value returned in RAX. */
  readonly status: bigint;
  /** The status name from the spec, for reports and tests. */
  readonly name: string;
  /** The operand or detail named, if any. */
  readonly detail?: string | bigint;
}

export function completion(spec: Spec, name: string, detail?: string | bigint): Completion {
  let value = spec.statusValue(name);
  if (detail !== undefined) {
    const d = typeof detail === "string" ? spec.enumValue("OPERAND_ID", detail) : detail;
    value |= d & 0xFFFF_FFFFn;
  }
  return { status: value, name, detail };
}

/** Splits a status into the named status (detail bits cleared) and its detail. */
export function describeStatus(
  spec: Spec,
  value: bigint,
): { name: string | undefined; detail: bigint } {
  const layout = spec.bitfield("TDX_STATUS").fields;
  const { fields } = decodeBits(layout, value);
  const detail = fields.details_l2 ?? (value & 0xFFFF_FFFFn);
  const names = statusNames(spec);
  // A status the module made fatal (api_error_fatal sets bit 61) keeps its name.
  const fatal = layout.find((f) => f.name === "fatal");
  const fatalBit = fatal ? 1n << BigInt(fatal.bits[0]) : 0n;
  const name = names.get(value & ~0xFFFF_FFFFn) ?? names.get(value & ~0xFFFF_FFFFn & ~fatalBit);
  return { name, detail };
}

const namesBySpec = new WeakMap<Spec, Map<bigint, string>>();

/** TDX status names by value (detail bits zero), built once per spec. */
function statusNames(spec: Spec): Map<bigint, string> {
  let m = namesBySpec.get(spec);
  if (!m) {
    m = new Map();
    for (const s of spec.statuses.values()) {
      if (s.namespace === "tdx" && !m.has(BigInt(s.value))) m.set(BigInt(s.value), s.name);
    }
    namesBySpec.set(spec, m);
  }
  return m;
}

export function isSuccess(spec: Spec, value: bigint): boolean {
  // The error bit (63) clear means success or a warning-class success.
  const err = spec.bitfield("TDX_STATUS").fields.find((f) => f.name === "error");
  return err ? ((value >> BigInt(err.bits[0])) & 1n) === 0n : value === 0n;
}
