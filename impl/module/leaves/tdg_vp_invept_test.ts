import { strict as assert } from "node:assert";
import { GuestHarness } from "../testing/guest_harness.ts";

const cases: { why: string; vms: number; mask: bigint; status: string }[] = [
  { why: "VM 1 of one", vms: 1, mask: 0b10n, status: "TDX_SUCCESS" },
  { why: "VMs 1-3 of three", vms: 3, mask: 0b1110n, status: "TDX_SUCCESS" },
  { why: "empty mask", vms: 1, mask: 0n, status: "TDX_SUCCESS" },
  { why: "bit 0 (L1)", vms: 3, mask: 0b11n, status: "TDX_OPERAND_INVALID" },
  { why: "VM 2 of one", vms: 1, mask: 0b100n, status: "TDX_OPERAND_INVALID" },
  { why: "a reserved bit", vms: 3, mask: 1n << 63n, status: "TDX_OPERAND_INVALID" },
  { why: "any VM of a TD with none", vms: 0, mask: 0b10n, status: "TDX_OPERAND_INVALID" },
];
for (const c of cases) {
  Deno.test(`TDG.VP.INVEPT: ${c.why} -> ${c.status}`, () => {
    const h = new GuestHarness({ numL2Vms: c.vms });
    const r = h.tdcall("TDG.VP.INVEPT", { vm_mask: c.mask });
    assert.equal(r.name, c.status);
    if (c.status !== "TDX_SUCCESS") assert.equal(r.operand, "RCX");
  });
}

Deno.test("TDG.VP.INVEPT: RAX reserved bits -> TDX_OPERAND_INVALID RAX", () => {
  const h = new GuestHarness({ numL2Vms: 1 });
  const leaf = BigInt(h.spec.tdcall("TDG.VP.INVEPT").leaf);
  const regs = { ...h.tdcall("TDG.VP.INFO").regs, RAX: leaf | (1n << 40n), RCX: 2n };
  const r = h.tdcallRegs(regs);
  assert.equal(r.name, "TDX_OPERAND_INVALID");
  assert.equal(r.operand, "RAX");
});
