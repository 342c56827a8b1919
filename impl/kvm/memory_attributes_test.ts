import { strict as assert } from "node:assert";
import { MemoryAttributes } from "./memory_attributes.ts";

Deno.test("memory attributes are kept per GFN range and split on partial updates", () => {
  const a = new MemoryAttributes();
  assert.ok(a.rangeHas(0n, 100n, 0n));
  a.set(10n, 20n, 8n);
  assert.equal(a.get(9n), 0n);
  assert.equal(a.get(10n), 8n);
  assert.equal(a.get(19n), 8n);
  assert.ok(a.rangeHas(10n, 20n, 8n));
  assert.ok(!a.rangeHas(9n, 20n, 8n));
  assert.ok(!a.rangeHas(0n, 30n, 0n));
  a.set(12n, 14n, 0n);
  assert.ok(a.rangeHas(12n, 14n, 0n));
  assert.ok(a.rangeHas(10n, 12n, 8n));
  assert.ok(a.rangeHas(14n, 20n, 8n));
  assert.ok(!a.rangeHas(10n, 20n, 8n));
});
