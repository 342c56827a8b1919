import { strict as assert } from "node:assert";
import { checkSpec } from "../../impl/spec/mod.ts";
import { StructCodec } from "../../impl/spec/codec.ts";
import { hexToBytes } from "../../impl/spec/hex.ts";
import { GeneratorContext } from "./generator_context.ts";
import { type ModuleCase, moduleDispatchGates, moduleSequence } from "./module_generators.ts";

const { spec, hash } = checkSpec();
const ctx = () => new GeneratorContext(spec, hash, "scenarios/test.yaml");
const one = (c: ModuleCase) => moduleSequence(ctx(), { cases: [c] })[0];

Deno.test("a step's expect that the reference does not answer fails the generation", () => {
  assert.throws(
    () =>
      one({
        id: "module.test.wrong-expect",
        title: "a wrong expectation",
        setup: "fresh",
        steps: [{ seamcall: "TDH.SYS.INIT", expect: "TDX_SYS_INIT_NOT_PENDING" }],
      }),
    /expected TDX_SYS_INIT_NOT_PENDING, the reference answered TDX_SUCCESS/,
  );
});

Deno.test("write_struct encodes a template with flattened fields into one memory.write", () => {
  const v = one({
    id: "module.test.write-struct",
    title: "TD_PARAMS written by fields",
    setup: "td-tdcs",
    steps: [
      { write_struct: "TD_PARAMS", at: "$page1", from: "default", fields: { max_vcpus: 0 } },
      {
        seamcall: "TDH.MNG.INIT",
        inputs: { tdr_pa: "$tdr", td_params_pa: "$page1" },
        expect: "TDX_OPERAND_INVALID(MAX_VCPUS)",
      },
    ],
  });
  assert.equal(v.steps[0].op, "memory.write");
  const bytes = hexToBytes(String(v.steps[0].input.bytes));
  const decoded = new StructCodec(spec).decode("TD_PARAMS", bytes).value;
  assert.equal(decoded.max_vcpus, 0);
  assert.equal(decoded.tsc_frequency, 100);
  assert.ok(v.covers.some((c) => c.kind === "struct" && c.name === "TD_PARAMS"));
  assert.ok(v.covers.some((c) => c.kind === "seamcall" && c.name === "TDH.MNG.INIT"));
});

Deno.test("a step with RAX as is records rax and still names its leaf in covers", () => {
  const v = one({
    id: "module.test.rax",
    title: "reserved RAX bit",
    setup: "fresh",
    steps: [{ seamcall: "TDH.SYS.INIT", rax: "0x1000021", expect: "TDX_OPERAND_INVALID(RAX)" }],
  });
  assert.equal(v.steps[0].input.rax, "0x1000021");
  assert.equal(v.steps[0].input.leaf, undefined);
  assert.ok(v.covers.some((c) => c.kind === "seamcall" && c.name === "TDH.SYS.INIT"));
  assert.throws(
    () =>
      one({
        id: "module.test.rax-other-leaf",
        title: "rax of another leaf",
        steps: [{ seamcall: "TDH.SYS.INIT", rax: "0x1000022" }],
      }),
    /is not leaf 33/,
  );
});

Deno.test("write_u64 and memory_read record a host write and a host read", () => {
  const v = one({
    id: "module.test.memory",
    title: "host memory",
    setup: "ready",
    steps: [
      { write_u64: ["0x1122334455667788"], at: "$page1" },
      { memory_read: "$page1", length: 8 },
    ],
  });
  assert.deepEqual(v.steps.map((s) => s.op), ["memory.write", "memory.read"]);
  assert.equal(v.steps[1].expect.bytes, "8877665544332211");
});

Deno.test("the dispatcher gates come from the spec, leaf by leaf", () => {
  const vs = moduleDispatchGates(ctx(), {});
  const byId = new Map(vs.map((v) => [v.id, v]));
  const last = (id: string) => {
    const v = byId.get(id);
    assert.ok(v, id);
    return v.steps[v.steps.length - 1].expect.status;
  };
  assert.deepEqual(last("module.dispatch.not-ready.tdh-mng-create"), { name: "TDX_SYS_NOT_READY" });
  assert.deepEqual(last("module.dispatch.shutdown.tdh-vp-enter"), { name: "TDX_SYS_SHUTDOWN" });
  assert.deepEqual(last("module.dispatch.shutdown.tdh-sys-lp-shutdown"), { name: "TDX_SUCCESS" });
  assert.deepEqual(last("module.tdh-mem-sept-wr.not-implemented"), {
    name: "TDX_OPERAND_INVALID",
    operand: "RAX",
  });
  // Leaves allowed before the module is ready have no not-ready gate vector.
  assert.equal(byId.has("module.dispatch.not-ready.tdh-sys-init"), false);
  for (const leaf of spec.seamcalls.values()) {
    if (leaf.implemented === false) continue;
    assert.ok(byId.has(`module.dispatch.shutdown.${leaf.name.toLowerCase().replaceAll(".", "-")}`));
  }
});
