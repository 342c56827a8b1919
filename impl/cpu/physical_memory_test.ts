import { strict as assert } from "node:assert";
import { PAGE_SIZE, PhysicalMemory } from "./physical_memory.ts";

// KeyIDs 1-31 shared, 32-63 private (as the default platform partitions them).
const memory = () => new PhysicalMemory(52, 6, (k) => k >= 32 && k <= 63);
const TD = 40;

Deno.test("a zeroed page reads as zeros with its KeyID and is an integrity event with another", () => {
  const mem = memory();
  const pa = 0x10_0000n;
  mem.write(mem.withKeyId(pa, TD), new Uint8Array(PAGE_SIZE).fill(0xAA));
  mem.zeroPage(mem.withKeyId(pa, TD));
  assert.deepEqual(mem.read(mem.withKeyId(pa, TD), PAGE_SIZE), new Uint8Array(PAGE_SIZE));
  assert.equal(mem.integrityEvents.length, 0);
  assert.deepEqual(mem.read(mem.withKeyId(pa + 64n, 0), 8), new Uint8Array(8));
  assert.deepEqual(mem.integrityEvents, [{ pa: pa + 64n, readKeyId: 0, ownerKeyId: TD }]);
  assert.equal(mem.touchedPages, 1);
});

Deno.test("a write into a zeroed page keeps the other bytes zero and the page's KeyIDs", () => {
  const mem = memory();
  const pa = 0x20_0000n;
  mem.zeroPage(mem.withKeyId(pa, TD));
  mem.write(mem.withKeyId(pa + 100n, TD), new Uint8Array([1, 2, 3]));
  const page = mem.read(mem.withKeyId(pa, TD), PAGE_SIZE);
  assert.deepEqual(page.subarray(100, 103), new Uint8Array([1, 2, 3]));
  assert.equal(page.reduce((n, b) => n + (b !== 0 ? 1 : 0), 0), 3);
  // The line written and the lines only zeroed all still belong to the TD's KeyID.
  mem.read(mem.withKeyId(pa + 4032n, 0), 1);
  assert.equal(mem.integrityEvents.length, 1);
  // Zeroing again with another KeyID takes the whole page over.
  mem.zeroPage(mem.withKeyId(pa, 0));
  assert.deepEqual(mem.read(mem.withKeyId(pa + 100n, 0), 3), new Uint8Array(3));
  assert.equal(mem.integrityEvents.length, 1);
});
