// Every real-data fixture is the file PROVENANCE.md describes: same size and sha256.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";

const dir = new URL("../fixtures/realdata/", import.meta.url);

Deno.test("fixtures/realdata files match their PROVENANCE.md size and sha256", () => {
  const text = Deno.readTextFileSync(new URL("PROVENANCE.md", dir));
  const rows = [...text.matchAll(/^\| `([^`]+)` \|.*\| (\d+) \| `([0-9a-f]{64})` \|/gm)];
  assert.ok(rows.length >= 40, `only ${rows.length} rows found`);
  for (const [, file, size, sha] of rows) {
    const bytes = Deno.readFileSync(new URL(file, dir));
    assert.equal(bytes.length, Number(size), file);
    assert.equal(createHash("sha256").update(bytes).digest("hex"), sha, file);
  }
});
