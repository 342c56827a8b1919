import { strict as assert } from "node:assert";
import { GuestHarness } from "../testing/guest_harness.ts";

Deno.test("TDG.VP.VEINFO.GET returns the saved #VE information once", () => {
  const h = new GuestHarness();
  const reason = h.spec.enumValue("VMX_EXIT_REASON", "EPT_VIOLATION");
  h.vcpu.veInfo = {
    valid: true,
    exitReason: reason,
    qualification: 0x181n,
    gla: 0x7000n,
    gpa: 0x9000n,
  };
  const r = h.tdcall("TDG.VP.VEINFO.GET");
  assert.equal(r.name, "TDX_SUCCESS");
  assert.deepEqual(
    [
      r.out.exit_reason,
      r.out.exit_qualification,
      r.out.guest_linear_address,
      r.out.guest_physical_address,
    ],
    [reason, 0x181n, 0x7000n, 0x9000n],
  );
  assert.equal(h.vcpu.veInfo.valid, false);
  const again = h.tdcall("TDG.VP.VEINFO.GET");
  assert.equal(again.name, "TDX_NO_VALID_VE_INFO");
  assert.equal(again.detail, 0n);
  assert.deepEqual(Object.values(again.out).filter((v) => v !== again.status), [
    0n,
    0n,
    0n,
    0n,
    0n,
  ]);
});

Deno.test("TDG.VP.VEINFO.GET after a #VE on a PENDING page", () => {
  const h = new GuestHarness();
  h.map(0x10_0000n, { state: "PENDING" });
  const ext = h.tdcall("TDG.MR.RTMR.EXTEND", { extend_data_gpa: 0x10_0000n, index: 0 });
  assert.equal(ext.completed, false);
  const r = h.tdcall("TDG.VP.VEINFO.GET");
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.out.guest_physical_address, 0x10_0000n);
  assert.equal(r.out.exit_reason, h.spec.enumValue("VMX_EXIT_REASON", "EPT_VIOLATION"));
});
