// The Secure EPT set-ups, symbols and out_regs of the module-sequence generator.
import { strict as assert } from "node:assert";
import { checkSpec } from "../../impl/spec/mod.ts";
import { GeneratorContext } from "./generator_context.ts";
import { type ModuleCase, moduleSequence } from "./module_generators.ts";

const { spec, hash } = checkSpec();
const one = (c: ModuleCase, ctx = new GeneratorContext(spec, hash, "scenarios/test.yaml")) =>
  moduleSequence(ctx, { cases: [c] })[0];

Deno.test("out_regs is recorded in the step input and the registers judged on an error", () => {
  const v = one({
    id: "module.test.out-regs",
    title: "walk failure",
    setup: "td-septs",
    steps: [{
      seamcall: "TDH.MEM.SEPT.RD",
      inputs: { gpa_and_level: "$gpa5+1", tdr_and_flags: "$tdr" },
      out_regs: ["RCX", "RDX"],
      expect: "TDX_EPT_WALK_FAILED(RCX)",
    }],
  });
  assert.deepEqual(v.steps[0].input.out_regs, ["RCX", "RDX"]);
  // The walk stops at $gpa5's FREE level-2 entry: RCX only SVE, RDX level 2.
  assert.deepEqual(v.steps[0].expect.regs, { RCX: "0x8000000000000000", RDX: "0x2" });
  assert.equal(v.fixture, "module-td-septs");
});

Deno.test("$hpaN, $largeN and $privateN resolve to the TD's page, a 2 MiB range, a keyed page", () => {
  const v = one({
    id: "module.test.memory-symbols",
    title: "symbols",
    setup: "td-running",
    steps: [
      {
        seamcall: "TDH.MEM.PAGE.AUG",
        inputs: { gpa_and_level: "0x10400001", tdr_pa: "$tdr", target_page_pa: "$large1" },
        expect: "TDX_SUCCESS",
      },
      {
        seamcall: "TDH.MEM.PAGE.AUG",
        inputs: { gpa_and_level: "0x10004000", tdr_pa: "$tdr", target_page_pa: "$hpa4+0x1000" },
        expect: "TDX_PAGE_METADATA_INCORRECT(R8)",
      },
      { seamcall: "TDH.PHYMEM.PAGE.WBINVD", inputs: { page_pa_with_hkid: "$private1" } },
    ],
  });
  const regs = v.steps.map((s) => s.input.regs as Record<string, string>);
  assert.equal(BigInt(regs[0].R8) % 0x20_0000n, 0n, "$large1 is 2 MiB aligned");
  assert.equal(BigInt(regs[1].R8) % 0x20_0000n, 0x1000n, "$hpa4 is the 2 MiB page of $gpa4");
  // $private1: host page 1 with the TD's KeyID in bits 46 and up.
  assert.notEqual(BigInt(regs[2].RCX) >> 46n, 0n);
});

Deno.test("the Secure EPT set-ups record the same fixture every time", () => {
  const ctx = new GeneratorContext(spec, hash, "scenarios/test.yaml");
  for (const setup of ["td-septs", "td-l2-3vms", "td-gpaw52", "td-running-debug"] as const) {
    for (let i = 0; i < 2; i++) {
      one({
        id: `module.test.${setup}-${i}`,
        title: "deterministic",
        setup,
        steps: [{ seamcall: "TDH.MEM.TRACK", inputs: { tdr_pa: "$tdr" }, expect: "TDX_SUCCESS" }],
      }, ctx);
    }
    assert.ok(ctx.fixtures.has(`module-${setup}`));
  }
});
