import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { GuestHarness } from "../testing/guest_harness.ts";

Deno.test("TDG.VP.INFO returns the TD's and the vCPU's facts", () => {
  const debug = encodeBits(new GuestHarness().spec.bitfield("TD_ATTRIBUTES").fields, { DEBUG: 1n });
  const h = new GuestHarness({ attributes: debug, maxVcpus: 8 });
  h.vcpu.index = 0;
  const r = h.tdcall("TDG.VP.INFO");
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.out.gpaw, 48n);
  assert.equal(r.out.attributes, debug);
  const info = h.spec.tdcall("TDG.VP.INFO").outputs.find((o) => o.name === "vcpus_info")!.fields!;
  assert.equal(r.out.vcpus_info, encodeBits(info, { NUM_VCPUS: 1n, MAX_VCPUS: 8n }));
  assert.equal(r.out.vcpu_index, 0n);
  assert.equal(r.out.commands_available, 1n);
  assert.equal(r.out.reserved, 0n);
});

Deno.test("TDG.VP.INFO: GPAW 52 with CONFIG_FLAGS.GPAW", () => {
  const gpaw = encodeBits(new GuestHarness().spec.bitfield("CONFIG_FLAGS").fields, { GPAW: 1n });
  const h = new GuestHarness({ configFlags: gpaw });
  assert.equal(h.tdcall("TDG.VP.INFO").out.gpaw, 52n);
});

Deno.test("TDG.VP.INFO: a version above 0 is TDX_OPERAND_INVALID (RAX)", () => {
  const h = new GuestHarness();
  const r = h.tdcall("TDG.VP.INFO", {}, { version: 1 });
  assert.equal(r.name, "TDX_OPERAND_INVALID");
  assert.equal(r.operand, "RAX");
});
