import { strict as assert } from "node:assert";
import { fixtureOwner, generateAll } from "./vectors_cli.ts";
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

Deno.test("--scenario keeps a shared fixture's owner when that scenario comes first and did not run", () => {
  const all = ["a.yaml", "m.yaml", "z.yaml"];
  // a.yaml owns it in a full run; running m.yaml alone must not claim it.
  assert.equal(
    fixtureOwner("scenarios/m.yaml", "scenarios/a.yaml", all, ["m.yaml"]),
    "scenarios/a.yaml",
  );
  // Recorded by a later scenario: the one run comes first, so it owns the fixture.
  assert.equal(
    fixtureOwner("scenarios/m.yaml", "scenarios/z.yaml", all, ["m.yaml"]),
    "scenarios/m.yaml",
  );
  // The recorded owner ran (and did not register it), or no longer exists, or none.
  assert.equal(
    fixtureOwner("scenarios/m.yaml", "scenarios/a.yaml", all, ["a.yaml", "m.yaml"]),
    "scenarios/m.yaml",
  );
  assert.equal(
    fixtureOwner("scenarios/m.yaml", "scenarios/gone.yaml", all, ["m.yaml"]),
    "scenarios/m.yaml",
  );
  assert.equal(fixtureOwner("scenarios/m.yaml", undefined, all, ["m.yaml"]), "scenarios/m.yaml");
});
