// The CBOR layer: deterministic encoding (RFC 8949 bytewise key order, shortest forms) and
// a strict single-item decode with go-tdx-guest's limits.
import { strict as assert } from "node:assert";
import { bytesToHex, hexToBytes } from "../../spec/hex.ts";
import { CborFloat, decodeCbor, encodeCbor, mapGet, Tagged } from "./cbor.ts";

const MAX = 32;

Deno.test("encoding is deterministic: map keys in bytewise order, shortest heads", () => {
  const m = new Map<unknown, unknown>([[-212, new Uint8Array(1)], ["a", 1], [1, -35], [33, 500]]);
  // 01 < 18 21 < 38 d3 < 61 61: the encoded keys' bytes decide the order.
  assert.equal(bytesToHex(encodeCbor(m)), "a401382218211901f438d34100616101");
  assert.equal(bytesToHex(encodeCbor(new Map([[1, -35]]))), "a1013822");
  assert.equal(bytesToHex(encodeCbor(new Tagged(61, new Tagged(18, [])))), "d83dd280");
});

Deno.test("decoding takes exactly one item and keeps key types, tags and floats apart", () => {
  const d = decodeCbor(hexToBytes("d83dd284a1013822a0f6f4"), MAX);
  assert.ok(d.ok);
  const outer = d.value as Tagged;
  assert.equal(outer.tag, 61);
  const inner = outer.value as Tagged;
  assert.equal(inner.tag, 18);
  const [prot] = inner.value as unknown[];
  assert.equal(mapGet(prot as Map<unknown, unknown> as never, 1), -35);
  const f = decodeCbor(hexToBytes("f93c00"), MAX);
  assert.ok(f.ok && f.value instanceof CborFloat && f.value.value === 1);
  for (
    const [hex, why] of [
      ["", "empty"],
      ["a0a0", "trailing item"],
      ["a1", "truncated map"],
      ["5f4100ff", "indefinite byte string"],
      ["7f6100ff", "indefinite text string"],
      ["a201000100", "duplicate key"],
      ["1c", "reserved additional information"],
      ["ff", "lone break"],
    ]
  ) {
    assert.equal(decodeCbor(hexToBytes(hex), MAX).ok, false, why);
  }
  // Indefinite-length arrays and maps are accepted, as go-tdx-guest does.
  assert.ok(decodeCbor(hexToBytes("9f0102ff"), MAX).ok);
  assert.ok(decodeCbor(hexToBytes("bf0102ff"), MAX).ok);
});

Deno.test("nesting: depth 32 is accepted, 33 is refused, without recursion trouble", () => {
  const nested = (depth: number) => {
    const b = new Uint8Array(depth + 1).fill(0x81);
    b[depth] = 0x00;
    return b;
  };
  assert.ok(decodeCbor(nested(MAX), MAX).ok);
  const deep = decodeCbor(nested(MAX + 1), MAX);
  assert.equal(deep.ok, false);
  assert.match((deep as { message: string }).message, /nesting deeper than 32/);
  // Tags count as a level; so do indefinite arrays.
  const tags = new Uint8Array(MAX + 2).fill(0xc1);
  tags[MAX + 1] = 0;
  assert.equal(decodeCbor(tags, MAX).ok, false);
  assert.equal(decodeCbor(new Uint8Array(100_000).fill(0x9f), MAX).ok, false);
  // Siblings at depth 32 after a closed branch are fine.
  const wide = hexToBytes("82" + "81".repeat(MAX - 1) + "00" + "00");
  assert.ok(decodeCbor(wide, MAX).ok);
});
