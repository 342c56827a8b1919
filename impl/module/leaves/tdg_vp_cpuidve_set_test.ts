import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { GuestHarness } from "../testing/guest_harness.ts";

const controls = (h: GuestHarness, v: Record<string, bigint>) =>
  encodeBits(
    h.spec.tdcall("TDG.VP.CPUIDVE.SET").inputs.find((r) => r.name === "controls")!.fields!,
    v,
  );

Deno.test("TDG.VP.CPUIDVE.SET stores both controls", () => {
  const h = new GuestHarness();
  assert.equal(
    h.tdcall("TDG.VP.CPUIDVE.SET", { controls: controls(h, { USER: 1n }) }).name,
    "TDX_SUCCESS",
  );
  assert.deepEqual(h.vcpu.cpuidVe, { supervisor: false, user: true });
  h.tdcall("TDG.VP.CPUIDVE.SET", { controls: controls(h, { SUPERVISOR: 1n }) });
  assert.deepEqual(h.vcpu.cpuidVe, { supervisor: true, user: false });
});

Deno.test("TDG.VP.CPUIDVE.SET: reserved bits -> TDX_OPERAND_INVALID RCX", () => {
  const h = new GuestHarness();
  const r = h.tdcall("TDG.VP.CPUIDVE.SET", { controls: controls(h, { RESERVED: 1n }) });
  assert.equal(r.name, "TDX_OPERAND_INVALID");
  assert.equal(r.operand, "RCX");
  assert.deepEqual(h.vcpu.cpuidVe, { supervisor: false, user: false });
});
