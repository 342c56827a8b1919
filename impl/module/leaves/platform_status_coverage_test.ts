// Every status the spec lists for a platform leaf (with its operand id) appears in that
// leaf's test table, so a status added to the spec cannot go untested unnoticed.
import { strict as assert } from "node:assert";
import { theSpec } from "../../spec/mod.ts";
import { PLATFORM_LEAVES } from "./platform_leaves.ts";

const dir = new URL(".", import.meta.url);

for (const [name] of PLATFORM_LEAVES) {
  Deno.test(`${name}: every spec status has a test row`, () => {
    const file = `${name.toLowerCase().replaceAll(".", "_")}_test.ts`;
    const text = Deno.readTextFileSync(new URL(file, dir));
    for (const s of theSpec().seamcall(name).statuses) {
      const pattern = s.operand
        ? new RegExp(`name: "${s.status}",\\s*operand: "${s.operand}"`)
        : new RegExp(`"${s.status}"`);
      assert.match(text, pattern, `${file} lacks ${s.status}${s.operand ? ` (${s.operand})` : ""}`);
    }
  });
}
