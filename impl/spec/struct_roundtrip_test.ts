import { strict as assert } from "node:assert";
import { theSpec } from "./mod.ts";
import { StructCodec } from "./codec.ts";
import { SampleRng, sampleStruct } from "./sample_values.ts";

Deno.test("every binary struct in the spec round-trips through the codec", async (t) => {
  const spec = theSpec();
  const codec = new StructCodec(spec);
  const binary = [...spec.structs.values()].filter((s) => s.encoding !== "cbor");
  assert.ok(binary.length > 0);
  for (const s of binary) {
    await t.step(s.name, () => {
      for (let seed = 1; seed <= 3; seed++) {
        const value = sampleStruct(spec, s.name, new SampleRng(seed));
        const bytes = codec.encode(s.name, value);
        if (typeof s.size === "number") assert.equal(bytes.length, s.size);
        const back = codec.decode(s.name, bytes);
        assert.deepEqual(back.value, value);
        assert.equal(back.size, bytes.length);
        assert.deepEqual(codec.encode(s.name, back.value), bytes);
      }
    });
  }
});
