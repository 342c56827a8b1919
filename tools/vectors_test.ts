import { strict as assert } from "node:assert";
import { generateAll } from "./vectors_cli.ts";
import { compareTree } from "./generated_tree.ts";
import { loadVectors } from "../runner/vectors_io.ts";

Deno.test("vectors/ is in step with scenarios/ and the reference (deno task vectors --check)", async () => {
  const { files, errors } = await generateAll();
  assert.deepEqual(errors, []);
  const keep = (p: string) => p.startsWith("schema/") || p === "RETIRED" || p === "README.md";
  const diff = compareTree(new URL("../vectors/", import.meta.url).pathname, files, keep);
  assert.deepEqual(diff.slice(0, 10), [], "vectors/ drifted: run deno task vectors");
});

Deno.test("every committed vector validates and has a unique id", () => {
  const { vectors, errors } = loadVectors();
  assert.deepEqual(errors, []);
  assert.ok(vectors.length > 0);
  for (const v of vectors) assert.match(v.provenance.generator, /^tools\/vectors_cli\.ts$/);
});
