import { strict as assert } from "node:assert";
import { CodecError, type DecodedStruct, StructCodec } from "./codec.ts";
import { Spec } from "./model.ts";
import type { Located, StructField, StructItem } from "./types.ts";
import { decodeBits, encodeBits, reservedMask } from "./bits.ts";

function struct(name: string, size: number | "variable", fields: StructField[]): Located {
  const item: StructItem = {
    kind: "struct",
    name,
    size,
    fields,
    stability: "stable",
    description: "test",
    sources: [{ repo: "intel/tdx-module", path: "x" }],
  };
  return { item, file: `struct/${name.toLowerCase()}.yaml`, position: () => ({ line: 1, col: 1 }) };
}

// Synthetic layouts exercising every field kind the codec supports.
const spec = new Spec([
  struct("INNER", 4, [{ name: "a", offset: 0, type: "u16" }, {
    name: "b",
    offset: 2,
    type: "u16",
    endian: "big",
  }]),
  struct("OUTER", 40, [
    { name: "magic", offset: 0, type: "u32", value: "0x46564454" },
    { name: "x", offset: 4, type: "u64" },
    { name: "inner", offset: 12, type: "struct", struct: "INNER" },
    { name: "arr", offset: 16, type: "array", element: "u16", count: 3 },
    { name: "RESERVED", offset: 22, type: "reserved", size: 2 },
    { name: "name", offset: 24, type: "char", size: 8 },
    { name: "RESERVED", offset: 32, type: "reserved", size: 8 },
  ]),
  struct("VAR", "variable", [
    { name: "len", offset: 0, type: "u32" },
    { name: "data", offset: 4, type: "bytes", size_from: "len" },
    { name: "count", type: "u8" },
    { name: "items", type: "array", element: "struct", struct: "INNER", count_from: "count" },
    { name: "tail", type: "bytes", rest: true },
  ]),
]);
const codec = new StructCodec(spec);

Deno.test("fixed layout: decode then encode gives the same bytes", () => {
  const bytes = new Uint8Array(40);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, 0x46564454, true);
  v.setBigUint64(4, 0x1122334455667788n, true);
  v.setUint16(12, 0x0102, true);
  v.setUint16(14, 0x0304, false);
  v.setUint16(16, 7, true);
  bytes.set(new TextEncoder().encode("TDX"), 24);
  bytes[22] = 0xaa; // reserved bytes are kept, not zeroed
  const { value, size } = codec.decode("OUTER", bytes);
  assert.equal(size, 40);
  assert.equal(value.x, 0x1122334455667788n);
  assert.deepEqual(value.inner, { a: 0x0102, b: 0x0304 });
  assert.deepEqual(value.arr, [7, 0, 0]);
  assert.equal(value.name, "TDX");
  assert.deepEqual(codec.encode("OUTER", value), bytes);
});

Deno.test("a wrong magic value or a short buffer is a CodecError naming the field", () => {
  assert.throws(
    () => codec.decode("OUTER", new Uint8Array(40)),
    (e) => e instanceof CodecError && e.field === "magic",
  );
  assert.throws(() => codec.decode("OUTER", new Uint8Array(10)), /needs 40 bytes, got 10/);
});

Deno.test("variable layout: size_from, count_from and rest", () => {
  const value: DecodedStruct = {
    len: 3,
    data: new Uint8Array([1, 2, 3]),
    count: 2,
    items: [{ a: 1, b: 2 }, { a: 3, b: 4 }],
    tail: new Uint8Array([9, 9]),
  };
  const bytes = codec.encode("VAR", value);
  assert.equal(bytes.length, 4 + 3 + 1 + 8 + 2);
  const back = codec.decode("VAR", bytes);
  assert.deepEqual(back.value, value);
  assert.equal(back.size, bytes.length);
  assert.throws(
    () => codec.decode("VAR", bytes.subarray(0, 6)),
    (e) => e instanceof CodecError && e.field === "data",
  );
});

Deno.test("encode checks integer ranges and byte lengths", () => {
  const base = codec.decode(
    "VAR",
    codec.encode("VAR", {
      len: 0,
      data: new Uint8Array(),
      count: 0,
      items: [],
      tail: new Uint8Array(),
    }),
  ).value;
  assert.throws(
    () => codec.encode("VAR", { ...base, count: 256 }),
    (e) => e instanceof CodecError && e.field === "count",
  );
  assert.throws(() => codec.encode("VAR", { ...base, len: 2 }), /expected 2 bytes, got 0/);
});

Deno.test("bit fields decode, encode and expose undefined bits", () => {
  const fields = [
    { name: "leaf", bits: [0, 15] as [number, number] },
    { name: "version", bits: [16, 23] as [number, number] },
    { name: "rsvd", bits: [24, 63] as [number, number], reserved: true },
  ];
  const { fields: f } = decodeBits(fields, 0x0001_0009n);
  assert.deepEqual(f, { leaf: 9n, version: 1n, rsvd: 0n });
  assert.equal(encodeBits(fields, { leaf: 9n, version: 1n }), 0x10009n);
  assert.equal(reservedMask(fields), 0xFFFF_FFFF_FF00_0000n);
  assert.throws(() => encodeBits(fields, { version: 256n }), RangeError);
  assert.equal(decodeBits(fields.slice(0, 1), 0x30000n).undefinedBits, 0x30000n);
});
