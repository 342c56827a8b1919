// Attest-layer vectors recorded from the reference: event-log replays of real logs.
import { runAttestStep } from "../../runner/layers/attest_layer.ts";
import type { Covered, Vector } from "../../runner/vector_types.ts";
import type { GeneratorContext } from "./generator_context.ts";

interface AttestCase {
  id: string;
  title: string;
  op: string;
  input: Record<string, unknown>;
  /** For negative cases: the error class the reference must give. */
  error?: string;
  covers?: Covered[];
  tags?: string[];
  /** Values the scenario pins (from the data's provenance) that the reference must reproduce. */
  pins?: Record<string, unknown>;
}

export async function attestRecorded(
  ctx: GeneratorContext,
  params: Record<string, unknown>,
): Promise<Vector[]> {
  const out: Vector[] = [];
  for (const c of params.cases as AttestCase[]) {
    const actual = await runAttestStep(ctx.spec, c.op, c.input);
    const err = actual.error as { class?: string } | undefined;
    if (c.error ? err?.class !== c.error : err) {
      throw new Error(`${c.id}: the reference answered ${JSON.stringify(actual).slice(0, 300)}`);
    }
    for (const [k, v] of Object.entries(c.pins ?? {})) {
      const got = k.split(".").reduce<unknown>(
        (o, key) => (o as Record<string, unknown>)?.[key],
        actual,
      );
      if (JSON.stringify(got) !== JSON.stringify(v)) {
        throw new Error(
          `${c.id}: the reference gives ${k} = ${JSON.stringify(got)}, the scenario pins ${
            JSON.stringify(v)
          }`,
        );
      }
    }
    const sources = Object.values(c.input).filter((v) =>
      typeof v === "string" && v.startsWith("fixtures/")
    );
    out.push(ctx.vector({
      id: c.id,
      title: c.title,
      layer: "attest",
      covers: c.covers ?? [{ kind: "struct", name: "TCG_PCR_EVENT2" }],
      tags: c.tags ?? (c.error ? ["negative"] : ["realdata"]),
      scenarioCase: c.id,
      ...(sources.length
        ? { source: `${sources.join(", ")} (fixtures/realdata/PROVENANCE.md)` }
        : {}),
      steps: [{
        op: c.op,
        input: c.input,
        expect: c.error ? { error: { class: err!.class } } : actual,
      }],
    }));
  }
  return out;
}
