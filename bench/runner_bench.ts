// The conformance runner: vectors per second against the reference, and protocol round
// trips per second against a minimal adapter, beside the runner's own judging cost.
import { loadVectors } from "../runner/vectors_io.ts";
import { ReferenceExecutor } from "../runner/reference_executor.ts";
import { ProcessExecutor } from "../runner/process_executor.ts";
import { judge } from "../runner/run.ts";
import { theSpecHash } from "../impl/spec/mod.ts";

const { vectors } = loadVectors();
const struct = vectors.filter((v) => v.layer === "struct");
const module = vectors.filter((v) => v.layer === "module" && !v.tags.includes("not-implemented"))
  .slice(0, 50);
const reference = new ReferenceExecutor();

let i = 0;
Deno.bench("reference: struct-layer vector", { group: "vectors" }, async () => {
  const v = struct[i++ % struct.length];
  judge(v, await reference.run(v));
});

let j = 0;
Deno.bench("reference: module-layer vector (fixture bring-up included)", {
  group: "vectors",
  n: 40,
}, async () => {
  const v = module[j++ % module.length];
  judge(v, await reference.run(v));
});

Deno.bench("runner alone: judging a struct vector's recorded results", {
  group: "vectors",
  baseline: true,
}, () => {
  const v = struct[i++ % struct.length];
  judge(v, { kind: "ran", actual: v.steps.map((s) => s.expect) });
});

const echo = await ProcessExecutor.start(
  `python3 ${new URL("../adapters/minimal/echo.py", import.meta.url).pathname}`,
  {
    timeoutMs: 10_000,
    validate: false,
    suite: { version: "bench", spec_hash: theSpecHash() },
  },
);
let k = 0;
Deno.bench(
  "protocol round trip to a minimal adapter (one vector)",
  { group: "adapter" },
  async () => {
    await echo.run(struct[k++ % struct.length]);
  },
);

Deno.bench("in-process reference, same vectors (no process boundary)", {
  group: "adapter",
  baseline: true,
}, async () => {
  await reference.run(struct[k++ % struct.length]);
});

globalThis.addEventListener("unload", () => {
  echo.close();
});
