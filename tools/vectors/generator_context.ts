// What every vector generator gets: the spec, and a constructor that stamps a vector
// with the schema, provenance and spec hash.
import type { Spec } from "../../impl/spec/mod.ts";
import { type Vector, VECTOR_SCHEMA_ID } from "../../runner/vector_types.ts";

export interface VectorDraft {
  id: string;
  title: string;
  layer: Vector["layer"];
  covers: Vector["covers"];
  tags: string[];
  scenarioCase: string;
  source?: string;
  steps: Vector["steps"];
}

export class GeneratorContext {
  constructor(readonly spec: Spec, readonly specHash: string, readonly scenarioFile: string) {}

  vector(d: VectorDraft): Vector {
    return {
      $schema: VECTOR_SCHEMA_ID,
      id: d.id,
      title: d.title,
      layer: d.layer,
      covers: d.covers,
      tags: d.tags,
      provenance: {
        generator: "tools/vectors_cli.ts",
        spec_hash: this.specHash,
        scenario: `${this.scenarioFile}#${d.scenarioCase}`,
        ...(d.source ? { source: d.source } : {}),
      },
      steps: d.steps,
    };
  }
}
