// The reference's struct layer: decode and encode by the spec's layouts.
import { CodecError, StructCodec } from "../../impl/spec/codec.ts";
import type { Spec } from "../../impl/spec/mod.ts";
import { bytesToHex, hexToBytes } from "../../impl/spec/hex.ts";
import type { Step, StepActual } from "../vector_types.ts";
import { flatten, unflatten } from "../value_format.ts";

export function runStructStep(spec: Spec, step: Step): StepActual {
  const codec = new StructCodec(spec);
  const name = String(step.input.struct);
  if (!spec.structs.has(name)) return { error: { class: "unknown-struct", struct: name } };
  try {
    if (step.op === "struct.decode") {
      const bytes = hexToBytes(String(step.input.bytes));
      const { value, size } = codec.decode(name, bytes);
      return { size, fields: flatten(value) };
    }
    if (step.op === "struct.encode") {
      const value = unflatten(spec, name, step.input.fields as Record<string, string>);
      return { bytes: bytesToHex(codec.encode(name, value)) };
    }
  } catch (e) {
    if (e instanceof CodecError) {
      const cls = /needs \d+ bytes|only \d+ left/.test(e.message) ? "truncated" : "invalid-value";
      return {
        error: { class: cls, field: e.field ? `${e.structName}.${e.field}` : e.structName },
      };
    }
    if (e instanceof RangeError) return { error: { class: "invalid-input", detail: e.message } };
    throw e;
  }
  return { error: { class: "unsupported-op", op: step.op } };
}
