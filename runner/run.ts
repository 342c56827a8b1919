// Runs vectors against an implementation and judges each: pass, fail (with the first
// difference), skip, error; expected failures turn fail into xfail and pass into xpass.
import type { Vector, VectorExecutor, VectorOutcome } from "./vector_types.ts";
import { type Difference, firstDifference } from "./compare.ts";
import { expectedToFail, type ExpectFailEntry } from "./expect_fail.ts";

export type Outcome = "pass" | "fail" | "xfail" | "xpass" | "skip" | "error";

export interface VectorResult {
  id: string;
  title: string;
  layer: string;
  covers: Vector["covers"];
  tags: string[];
  outcome: Outcome;
  /** Index of the first step that differed. */
  step?: number;
  op?: string;
  difference?: Difference;
  message?: string;
  expectFailReason?: string;
  durationMs: number;
}

export interface RunSummary {
  counts: Record<Outcome, number>;
  /** True when nothing unexpected happened: every vector passed, failed as expected, or was skipped. */
  ok: boolean;
}

export function judge(
  vector: Vector,
  outcome: VectorOutcome,
): Pick<VectorResult, "outcome" | "step" | "op" | "difference" | "message"> {
  if (outcome.kind === "skipped") return { outcome: "skip", message: outcome.reason };
  if (outcome.kind === "errored") return { outcome: "error", message: outcome.message };
  if (outcome.actual.length !== vector.steps.length) {
    return {
      outcome: "error",
      message:
        `the implementation answered ${outcome.actual.length} step results for ${vector.steps.length} steps`,
    };
  }
  for (let i = 0; i < vector.steps.length; i++) {
    const d = firstDifference(vector.steps[i].expect, outcome.actual[i]);
    if (d) return { outcome: "fail", step: i, op: vector.steps[i].op, difference: d };
  }
  return { outcome: "pass" };
}

export async function runVectors(
  vectors: Vector[],
  makeExecutor: () => VectorExecutor | Promise<VectorExecutor>,
  opts: {
    jobs: number;
    expectFail: ExpectFailEntry[];
    onResult?: (r: VectorResult) => void;
    /** Decides whether the implementation can run a vector at all (declared capabilities). */
    applicable?: (v: Vector) => string | undefined;
  },
): Promise<{ results: VectorResult[]; summary: RunSummary }> {
  const results: VectorResult[] = new Array(vectors.length);
  let nextIndex = 0;
  const worker = async () => {
    const executor = await makeExecutor();
    for (;;) {
      const i = nextIndex++;
      if (i >= vectors.length) break;
      const v = vectors[i];
      const started = performance.now();
      const notApplicable = opts.applicable?.(v);
      const outcome: VectorOutcome = notApplicable
        ? { kind: "skipped", reason: notApplicable }
        : await executor.run(v);
      const judged = judge(v, outcome);
      const xf = expectedToFail(opts.expectFail, v.id);
      let final = judged.outcome;
      if (xf && judged.outcome === "fail") final = "xfail";
      else if (xf && judged.outcome === "pass") final = "xpass";
      const r: VectorResult = {
        id: v.id,
        title: v.title,
        layer: v.layer,
        covers: v.covers,
        tags: v.tags,
        ...judged,
        outcome: final,
        expectFailReason: xf?.reason,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      };
      results[i] = r;
      opts.onResult?.(r);
    }
    await (executor as { close?: () => Promise<void> }).close?.();
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(opts.jobs, vectors.length || 1)) }, worker),
  );
  const counts: Record<Outcome, number> = {
    pass: 0,
    fail: 0,
    xfail: 0,
    xpass: 0,
    skip: 0,
    error: 0,
  };
  for (const r of results) counts[r.outcome]++;
  return {
    results,
    summary: { counts, ok: counts.fail === 0 && counts.xpass === 0 && counts.error === 0 },
  };
}
