// The vector format (vectors/schema/vector.schema.json) as TypeScript types.

export const VECTOR_SCHEMA_ID = "https://tdx-conformance.dev/schema/vector/v1";

export type Layer = "struct" | "module" | "kvm" | "guest" | "measure" | "attest";

export interface Covered {
  kind: string;
  name: string;
  scope?: string;
  /** For a status: the leaf whose call answered it. */
  leaf?: string;
}

export interface Step {
  op: string;
  note?: string;
  input: Record<string, unknown>;
  expect: Record<string, unknown>;
}

export interface Vector {
  $schema: typeof VECTOR_SCHEMA_ID;
  id: string;
  title: string;
  layer: Layer;
  covers: Covered[];
  tags: string[];
  provenance: { generator: string; spec_hash: string; scenario: string; source?: string };
  /** Name of a vectors/fixtures/NAME.json whose steps run first. */
  fixture?: string;
  steps: Step[];
}

export const FIXTURE_SCHEMA_ID = "https://tdx-conformance.dev/schema/fixture/v1";

export interface Fixture {
  $schema: typeof FIXTURE_SCHEMA_ID;
  id: string;
  title: string;
  layer: Layer;
  provenance: Vector["provenance"];
  steps: Step[];
}

/** What an implementation answered for one step: a result object, compared with `expect`. */
export type StepActual = Record<string, unknown>;

/** Runs the steps of one vector in order on a fresh instance of the implementation. */
export interface VectorExecutor {
  /** Layers and ops the executor implements. */
  readonly layers: readonly Layer[];
  run(vector: Vector): Promise<VectorOutcome>;
}

export type VectorOutcome =
  | { kind: "ran"; actual: StepActual[] }
  | { kind: "skipped"; reason: string }
  | { kind: "errored"; message: string };
