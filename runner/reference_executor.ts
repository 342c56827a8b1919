// The reference implementation behind the same interface as a third-party adapter:
// each vector runs on a fresh instance, step by step, through the layer it names.
import { theSpec } from "../impl/spec/mod.ts";
import type { Layer, StepActual, Vector, VectorExecutor, VectorOutcome } from "./vector_types.ts";
import { runStructStep } from "./layers/struct_layer.ts";
import { ModuleSession } from "./layers/module_layer.ts";
import { runMeasureStep } from "./layers/measure_layer.ts";
import { runAttestStep } from "./layers/attest_layer.ts";
import { KvmSession } from "./layers/kvm_layer.ts";
import { GuestSession } from "./layers/guest_layer.ts";

/** A layer's runner: a fresh session per vector, one call per step. */
export interface LayerSession {
  step(op: string, input: Record<string, unknown>): Promise<StepActual> | StepActual;
}
export type LayerFactory = () => LayerSession;

const spec = theSpec();

export const REFERENCE_LAYERS: Partial<Record<Layer, LayerFactory>> = {
  struct: () => ({ step: (op, input) => runStructStep(spec, { op, input, expect: {} }) }),
  module: () => new ModuleSession(),
  measure: () => ({ step: (op, input) => runMeasureStep(spec, op, input) }),
  attest: () => ({ step: (op, input) => runAttestStep(spec, op, input) }),
  kvm: () => new KvmSession(),
  guest: () => new GuestSession(),
};

export const REFERENCE_IMPLEMENTATION = {
  name: "tdx-conformance reference",
  version: "0.1.0",
  language: "TypeScript",
};

export class ReferenceExecutor implements VectorExecutor {
  readonly layers = Object.keys(REFERENCE_LAYERS) as Layer[];

  async run(vector: Vector): Promise<VectorOutcome> {
    const factory = REFERENCE_LAYERS[vector.layer];
    if (!factory) {
      return {
        kind: "skipped",
        reason: `the reference does not implement the ${vector.layer} layer yet`,
      };
    }
    const session = factory();
    const actual: StepActual[] = [];
    try {
      for (const step of vector.steps) actual.push(await session.step(step.op, step.input));
    } catch (e) {
      return {
        kind: "errored",
        message: `reference raised ${(e as Error).name}: ${(e as Error).message}`,
      };
    }
    return { kind: "ran", actual };
  }
}
