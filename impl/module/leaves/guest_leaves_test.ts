// Every guest leaf the reference implements rejects a bad RAX (reserved bits 63:24 or a
// version it does not have) with TDX_OPERAND_INVALID naming RAX, its order-0 status.
import { strict as assert } from "node:assert";
import { leafRegisters } from "../../cpu/leaf_call.ts";
import { GuestHarness } from "../testing/guest_harness.ts";
import { GUEST_LEAVES } from "./guest_leaves.ts";

Deno.test("every implemented TDCALL leaf is registered", () => {
  const h = new GuestHarness();
  const implemented = [...h.spec.tdcalls.values()].filter((l) => l.implemented !== false);
  assert.deepEqual(
    GUEST_LEAVES.map(([n]) => n).sort(),
    implemented.map((l) => l.name).sort(),
  );
});

for (const [name] of GUEST_LEAVES) {
  Deno.test(`${name}: reserved RAX bits or a higher version give TDX_OPERAND_INVALID (RAX)`, () => {
    const h = new GuestHarness();
    const leaf = h.spec.tdcall(name);
    const regs = leafRegisters(h.spec, leaf, {});
    regs.RAX |= 1n << 40n;
    const r = h.tdcallRegs(regs);
    assert.equal(r.name, "TDX_OPERAND_INVALID");
    assert.equal(r.operand, "RAX");
    const v = h.tdcall(name, {}, { version: leaf.version + 1 });
    assert.equal(v.name, "TDX_OPERAND_INVALID");
    assert.equal(v.operand, "RAX");
  });
}
