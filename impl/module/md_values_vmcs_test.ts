import { strict as assert } from "node:assert";
import { Platform } from "./testing/fixture.ts";
import { MemoryTd } from "./testing/memory_fixture.ts";
import { catalog } from "./metadata.ts";

/** A host TDH.VP.WR of a TD VMCS field of vCPU 0 with a full write mask. */
function hostWrite(name: string, value: bigint) {
  const p = new Platform();
  p.readyPlatform();
  const m = new MemoryTd(p, { stage: "initialized" });
  m.finalize();
  const cat = catalog(p.spec);
  const id = cat.elementId(cat.field("vcpu", name), 0);
  const r = p.seamcall("TDH.VP.WR", {
    tdvpr_pa: m.vcpus[0],
    field_id: id,
    value,
    write_mask: 0xFFFF_FFFF_FFFF_FFFFn,
  });
  return { r, stored: p.module.state.vcpus.get(m.vcpus[0])!.fields.get(id) };
}

Deno.test("POSTED_INTR_DESC_ADDR: the first write drops NULL_PA's bits outside the write mask", () => {
  // As KVM writes it: every bit asked, bits 5:0 not writable and 0 in the value.
  const { r, stored } = hostWrite("POSTED_INTR_DESC_ADDR", 0x4_0000n);
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.out.old_value, 0xFFFF_FFFF_FFFF_FFFFn);
  assert.equal(stored, 0x4_0000n);
});

Deno.test("POSTED_INTR_DESC_ADDR: bits 5:0 set in the value are still not writable", () => {
  const { r } = hostWrite("POSTED_INTR_DESC_ADDR", 0x4_0001n);
  assert.equal(r.name, "TDX_METADATA_FIELD_VALUE_NOT_VALID");
});
