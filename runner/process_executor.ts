// A third-party implementation as a VectorExecutor: one adapter process per worker.
import { type AdapterOptions, ProcessAdapter, type Ready } from "./process_adapter.ts";
import type { Layer, Vector, VectorExecutor, VectorOutcome } from "./vector_types.ts";

export class ProcessExecutor implements VectorExecutor {
  private seq = 0;
  private constructor(private readonly adapter: ProcessAdapter, readonly ready: Ready) {}

  static async start(command: string, opts: AdapterOptions): Promise<ProcessExecutor> {
    const adapter = new ProcessAdapter(command, opts);
    const ready = await adapter.start();
    return new ProcessExecutor(adapter, ready);
  }

  get layers(): Layer[] {
    return this.ready.capabilities.layers as Layer[];
  }
  get violations(): string[] {
    return this.adapter.violations;
  }
  get restarts(): number {
    return this.adapter.restarts;
  }

  run(vector: Vector): Promise<VectorOutcome> {
    return this.adapter.run(vector, this.seq++);
  }

  close(): Promise<void> {
    return this.adapter.stop();
  }
}

/** Why a vector is outside what the implementation declared, or undefined when it can run. */
export function outsideCapabilities(ready: Ready["capabilities"], v: Vector): string | undefined {
  if (!ready.layers.includes(v.layer)) {
    return `the implementation does not declare the ${v.layer} layer`;
  }
  if (ready.ops) {
    const missing = v.steps.map((s) => s.op).find((op) => !ready.ops!.includes(op));
    if (missing) return `the implementation does not declare op ${missing}`;
  }
  const leaves = v.covers.filter((c) => c.kind === "seamcall" || c.kind === "tdcall").map((c) =>
    c.name
  );
  if (ready.leaves && v.layer === "module") {
    const missing = leaves.find((l) => !ready.leaves!.includes(l));
    if (missing) return `the implementation does not declare leaf ${missing}`;
  }
  if (ready.structs && v.layer === "struct") {
    const missing = v.covers.filter((c) => c.kind === "struct").map((c) => c.name).find((s) =>
      !ready.structs!.includes(s)
    );
    if (missing) return `the implementation does not declare struct ${missing}`;
  }
  return undefined;
}
