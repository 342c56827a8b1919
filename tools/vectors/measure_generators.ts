// Measure-layer vectors: real TDVF images and damaged copies of them.
import { createHash } from "node:crypto";
import { runMeasureStep } from "../../runner/layers/measure_layer.ts";
import type { Vector } from "../../runner/vector_types.ts";
import type { GeneratorContext } from "./generator_context.ts";

interface MeasureCase {
  id: string;
  title: string;
  image: string;
  truncate?: number;
  patch?: { offset: number; bytes: string }[];
  /** For negative cases: the error class the reference must give (a check on the scenario). */
  error?: string;
  tags?: string[];
}

export function measureTdvf(ctx: GeneratorContext, params: Record<string, unknown>): Vector[] {
  return (params.cases as MeasureCase[]).map((c) => {
    const bytes = Deno.readFileSync(new URL(`../../${c.image}`, import.meta.url));
    const input: Record<string, unknown> = {
      image: c.image,
      sha256: createHash("sha256").update(bytes).digest("hex"),
    };
    if (c.truncate !== undefined) input.truncate = c.truncate;
    if (c.patch) input.patch = c.patch;
    const actual = runMeasureStep(ctx.spec, "measure.tdvf", input);
    const err = actual.error as { class?: string; field?: string } | undefined;
    if (c.error && err?.class !== c.error) {
      throw new Error(
        `${c.id}: expected error ${c.error}, the reference gave ${JSON.stringify(actual)}`,
      );
    }
    if (!c.error && err) throw new Error(`${c.id}: the reference failed: ${JSON.stringify(err)}`);
    const covers: Vector["covers"] = [
      { kind: "struct", name: "TDVF_DESCRIPTOR" },
      { kind: "struct", name: "TDVF_SECTION" },
      { kind: "struct", name: "OVMF_TABLE_FOOTER" },
    ];
    if (!c.error) {
      covers.push(
        { kind: "kvm_tdx_command", name: "KVM_TDX_INIT_MEM_REGION" },
        { kind: "seamcall", name: "TDH.MEM.PAGE.ADD" },
        { kind: "seamcall", name: "TDH.MR.EXTEND" },
        { kind: "seamcall", name: "TDH.MR.FINALIZE" },
        { kind: "guest_interface", name: "tdx_guest.mrtd" },
      );
    }
    return ctx.vector({
      id: c.id,
      title: c.title,
      layer: "measure",
      covers,
      tags: c.tags ?? (c.error ? ["negative"] : ["realdata"]),
      scenarioCase: c.id,
      source: `${c.image} (fixtures/realdata/PROVENANCE.md)`,
      steps: [{
        op: "measure.tdvf",
        input,
        expect: c.error ? { error: { class: err!.class, field: err!.field } } : actual,
      }],
    });
  });
}
