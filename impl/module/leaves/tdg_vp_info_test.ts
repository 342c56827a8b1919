import { strict as assert } from "node:assert";
import { GuestHarness } from "../testing/guest_harness.ts";

Deno.test("TDG.VP.INFO returns the TD's and the vCPU's facts", () => {
  const h = new GuestHarness({ attributes: 1n, maxVcpus: 8 });
  h.vcpu.index = 0;
  const r = h.tdcall("TDG.VP.INFO");
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.out.gpaw, 48n);
  assert.equal(r.out.attributes, 1n);
  assert.equal(r.out.vcpus_info, (8n << 32n) | 1n);
  assert.equal(r.out.vcpu_index, 0n);
  assert.equal(r.out.commands_available, 1n);
  assert.equal(r.out.reserved, 0n);
});

Deno.test("TDG.VP.INFO: GPAW 52 with CONFIG_FLAGS.GPAW", () => {
  const h = new GuestHarness({ configFlags: 1n });
  assert.equal(h.tdcall("TDG.VP.INFO").out.gpaw, 52n);
});

Deno.test("TDG.VP.INFO: a version above 0 is TDX_OPERAND_INVALID (RAX)", () => {
  const h = new GuestHarness();
  const r = h.tdcall("TDG.VP.INFO", {}, { version: 1 });
  assert.equal(r.name, "TDX_OPERAND_INVALID");
  assert.equal(r.operand, "RAX");
});
