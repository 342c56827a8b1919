import { strict as assert } from "node:assert";
import { Platform } from "../../impl/module/testing/fixture.ts";
import { MemoryTd } from "../../impl/module/testing/memory_fixture.ts";
import { toHex } from "../../impl/spec/hex.ts";
import { ModuleSession } from "./module_layer.ts";

/** A session on an initialized TD with no Secure EPT page below the root. */
function td() {
  const p = new Platform();
  const m = new MemoryTd(p);
  return { m, s: new ModuleSession(p), tdr: toHex(m.tdr) };
}

Deno.test("seamcall: out_regs reports RCX and RDX on a Secure EPT walk failure", () => {
  const { s, tdr } = td();
  // Level 1 with no level-2 page: the walk stops at the FREE level-3 entry.
  const input = { leaf: "TDH.MEM.SEPT.RD", version: 0, regs: { RCX: "0x40000001", RDX: tdr } };
  const plain = s.step("seamcall", input);
  assert.deepEqual(plain.status, { name: "TDX_EPT_WALK_FAILED", operand: "RCX" });
  assert.equal(plain.regs, undefined, "an error reports no registers unless asked");
  const r = s.step("seamcall", { ...input, out_regs: ["RCX", "RDX"] });
  // RCX: a FREE entry (only SVE, bit 63); RDX: level 3, state FREE.
  assert.deepEqual(r.regs, { RCX: "0x8000000000000000", RDX: "0x3" });
});

Deno.test("seamcall: out_regs adds to the output registers of a success", () => {
  const { s, tdr } = td();
  const r = s.step("seamcall", {
    leaf: "TDH.MEM.SEPT.RD",
    version: 0,
    regs: { RCX: "0x3", RDX: tdr, R12: "0x1234" },
    out_regs: ["R12"],
  });
  const regs = r.regs as Record<string, string>;
  assert.equal(regs.RDX, "0x3", "the leaf's outputs are still there");
  assert.equal(regs.R12, "0x1234");
});

Deno.test("seamcall: out_regs naming no register is an invalid input", () => {
  const { s, tdr } = td();
  const r = s.step("seamcall", {
    leaf: "TDH.MEM.SEPT.RD",
    version: 0,
    regs: { RCX: "0x3", RDX: tdr },
    out_regs: ["XMM0"],
  });
  assert.deepEqual(r.error, { class: "invalid-input", field: "out_regs" });
});
