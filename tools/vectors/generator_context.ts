// What every vector generator gets: the spec, and a constructor that stamps a vector
// with the schema, provenance and spec hash.
import type { Spec } from "../../impl/spec/mod.ts";
import {
  type Fixture,
  FIXTURE_SCHEMA_ID,
  type Vector,
  VECTOR_SCHEMA_ID,
} from "../../runner/vector_types.ts";

export interface VectorDraft {
  id: string;
  title: string;
  layer: Vector["layer"];
  covers: Vector["covers"];
  tags: string[];
  scenarioCase: string;
  source?: string;
  fixture?: string;
  steps: Vector["steps"];
}

export class GeneratorContext {
  constructor(
    readonly spec: Spec,
    readonly specHash: string,
    readonly scenarioFile: string,
    /** Fixtures produced so far, shared by every scenario of a run. */
    readonly fixtures: Map<string, Fixture> = new Map(),
  ) {}

  /** Registers shared leading steps; a second registration must produce the same steps. */
  fixture(id: string, title: string, layer: Vector["layer"], steps: Vector["steps"]): string {
    const f: Fixture = {
      $schema: FIXTURE_SCHEMA_ID,
      id,
      title,
      layer,
      provenance: {
        generator: "tools/vectors_cli.ts",
        spec_hash: this.specHash,
        scenario: this.scenarioFile,
      },
      steps,
    };
    const prev = this.fixtures.get(id);
    if (prev && JSON.stringify(prev.steps) !== JSON.stringify(steps)) {
      throw new Error(
        `fixture ${id} is not deterministic: two runs of its setup recorded different steps`,
      );
    }
    if (!prev) this.fixtures.set(id, f);
    return id;
  }

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
      ...(d.fixture ? { fixture: d.fixture } : {}),
      steps: d.steps,
    };
  }
}
