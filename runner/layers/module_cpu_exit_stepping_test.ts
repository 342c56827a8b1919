// td.cpu_exit's `rip_advance` (the single-step defence): the LP's local APIC state comes from
// cpu.set of IA32_APIC_BASE, and the enabled-APIC case with little progress, which needs the
// stepping mode the reference does not model, is refused naming rip_advance.
import { strict as assert } from "node:assert";
import { Platform } from "../../impl/module/testing/fixture.ts";
import { MemoryTd } from "../../impl/module/testing/memory_fixture.ts";
import { toHex } from "../../impl/spec/hex.ts";
import { ModuleSession } from "./module_layer.ts";

function running(): { s: ModuleSession; vcpu: string } {
  const p = new Platform();
  const m = new MemoryTd(p, { stage: "initialized" });
  m.finalize();
  return { s: new ModuleSession(p), vcpu: toHex(m.vcpus[0]) };
}

const statusOf = (r: Record<string, unknown>) =>
  (r.exit as { status: { name: string } } | undefined)?.status.name;

Deno.test("td.cpu_exit rip_advance: no progress with the APIC enabled is refused", () => {
  const { s, vcpu } = running();
  const r = s.step("td.cpu_exit", { vcpu, exit_reason: "INTERRUPT", rip_advance: "0x0" });
  assert.equal((r.error as { field: string }).field, "rip_advance");
  assert.match((r.error as { why: string }).why, /stepping mode is not modelled/);
  // Left out, the defence does not look: an ordinary exit.
  assert.equal(statusOf(s.step("td.cpu_exit", { vcpu, exit_reason: "INTERRUPT" })), "TDX_SUCCESS");
});

Deno.test("td.cpu_exit rip_advance: no progress with the APIC disabled ends the TD", () => {
  const { s, vcpu } = running();
  s.step("cpu.set", { msr: "IA32_APIC_BASE", fields: { EN: "0x0" }, lp: 0 });
  const far = s.step("td.cpu_exit", { vcpu, exit_reason: "INTERRUPT", rip_advance: "0x21" });
  assert.equal(statusOf(far), "TDX_SUCCESS");
  const near = s.step("td.cpu_exit", { vcpu, exit_reason: "INTERRUPT", rip_advance: "0x20" });
  assert.equal(statusOf(near), "TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE");
});
