import { strict as assert } from "node:assert";
import { StructCodec } from "../../impl/spec/codec.ts";
import { theSpec } from "../../impl/spec/mod.ts";
import { decodeFields, encodeFields } from "./struct_args.ts";

const spec = theSpec();
const codec = new StructCodec(spec);
const noSymbols = (t: string): bigint => {
  throw new RangeError(`no symbol ${t}`);
};

Deno.test("encodeFields: omitted fields are zero, symbols resolve", () => {
  const bytes = encodeFields(spec, codec, "kvm_tdx_cmd", { id: "0x3", data: "$x" }, () => 0x1000n);
  assert.equal(bytes.length, 24);
  const back = decodeFields(spec, codec, "kvm_tdx_cmd", bytes);
  assert.deepEqual(back, { id: "0x3", flags: "0x0", data: "0x1000", hw_error: "0x0" });
});

Deno.test("encodeFields: a counted array follows its elements unless the count is stated", () => {
  const two = encodeFields(spec, codec, "kvm_cpuid2", {
    "entries.1.function": "0x7",
  }, noSymbols);
  assert.equal(two.length, 8 + 2 * 40);
  assert.equal(decodeFields(spec, codec, "kvm_cpuid2", two).nent, "0x2");
  // A stated count is written as given, with no entries behind it (room for output).
  const room = encodeFields(spec, codec, "kvm_cpuid2", { nent: "0x100" }, noSymbols);
  assert.equal(room.length, 8);
  assert.equal(new DataView(room.buffer).getUint32(0, true), 0x100);
  // Nested: kvm_tdx_init_vm's cpuid.nent at its fixed offset.
  const init = encodeFields(spec, codec, "kvm_tdx_init_vm", { "cpuid.nent": "0x101" }, noSymbols);
  assert.equal(new DataView(init.buffer).getUint32(256, true), 0x101);
});

Deno.test("encodeFields: unknown fields and wrong value kinds are refused", () => {
  assert.throws(() => encodeFields(spec, codec, "kvm_tdx_cmd", { nope: "0x1" }, noSymbols), /nope/);
  assert.throws(
    () => encodeFields(spec, codec, "kvm_tdx_init_vm", { mrowner: "0x1" }, noSymbols),
    /bytes/,
  );
});

Deno.test("decodeFields: a count past the bytes given still reports the fixed fields", () => {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setUint32(0, 40, true);
  assert.deepEqual(decodeFields(spec, codec, "kvm_cpuid2", bytes), {
    nent: "0x28",
    padding: "hex:00000000",
  });
});
