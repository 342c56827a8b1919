// The reference's measure layer: a TDVF image in, the MRTD a TD built from it gets out,
// computed by running the launcher, KVM and the TDX module.
import { createHash } from "node:crypto";
import type { Spec } from "../../impl/spec/mod.ts";
import { bytesToHex, hexToBytes, toHex } from "../../impl/spec/hex.ts";
import { parseTdvf } from "../../impl/vmm/tdvf.ts";
import { runTdSession } from "../../impl/platform/td_stack.ts";
import type { StepActual } from "../vector_types.ts";

export const SUITE_ROOT = new URL("../../", import.meta.url).pathname;

/**
 * The image a measure step names: a file under the suite's root, checked by sha256,
 * then cut short (`truncate`) or patched (`patch: [{offset, bytes}]`) as the vector says.
 */
export function stepImage(
  input: Record<string, unknown>,
): Uint8Array | { error: Record<string, unknown> } {
  let image: Uint8Array;
  try {
    image = Deno.readFileSync(SUITE_ROOT + String(input.image));
  } catch {
    return { error: { class: "missing-input", file: input.image } };
  }
  if (input.sha256 && createHash("sha256").update(image).digest("hex") !== input.sha256) {
    return { error: { class: "input-mismatch", file: input.image } };
  }
  if (input.truncate !== undefined) image = image.slice(0, Number(input.truncate));
  else image = image.slice();
  for (const p of (input.patch ?? []) as { offset: number; bytes: string }[]) {
    image.set(hexToBytes(p.bytes), p.offset);
  }
  return image;
}

export function runMeasureStep(spec: Spec, op: string, input: Record<string, unknown>): StepActual {
  if (op !== "measure.tdvf") return { error: { class: "unsupported-op", op } };
  const image = stepImage(input);
  if (!(image instanceof Uint8Array)) return image;
  const parsed = parseTdvf(spec, image);
  if (!parsed.ok) return { error: { class: parsed.error.kind, field: parsed.error.field } };
  const fw = parsed.value;
  let mrtd: Uint8Array | undefined;
  const session = runTdSession(fw, function* (p) {
    const r = yield* p.readFile(spec.guestInterface("tdx_guest.mrtd").path);
    if (r.ok) mrtd = r.value;
  });
  if (!session.ok || !mrtd) {
    return {
      error: { class: "launch-failed", step: session.ok ? "read-mrtd" : session.error.step },
    };
  }
  return {
    mrtd: bytesToHex(mrtd),
    sections: fw.sections.map((s) => ({
      type: s.typeName,
      memory_address: toHex(s.memoryAddress),
      memory_data_size: toHex(s.memoryDataSize),
      measured: s.measured,
    })),
  };
}
