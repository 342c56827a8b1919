import { strict as assert } from "node:assert";
import { Platform } from "./fixture.ts";

Deno.test("readyPlatform brings the module to SYS_READY through real SEAMCALLs", () => {
  const p = new Platform();
  p.readyPlatform();
  const st = p.module.state.platform;
  assert.equal(st.sysState, "SYS_READY");
  assert.equal(st.lpInitialized.size, p.cpu.lps.length);
  assert.equal(st.packagesKeyConfigured.size, p.cpu.platform.packages);
  assert.ok(st.tdmrs.length > 0);
  for (const t of st.tdmrs) assert.equal(t.initialized, t.size);
  assert.equal(p.module.state.kot.get(st.globalHkid!), "HKID_RESERVED");
});

Deno.test("allocPage hands out distinct pages inside TDMRs and outside reserved areas", () => {
  const p = new Platform();
  p.readyPlatform();
  const seen = new Set<bigint>();
  for (let i = 0; i < 64; i++) {
    const pa = p.allocPage();
    assert.equal(pa % 4096n, 0n);
    assert.ok(!seen.has(pa));
    seen.add(pa);
    const t = p.module.state.platform.tdmrs.find((t) => pa >= t.base && pa < t.base + t.size);
    assert.ok(t, `0x${pa.toString(16)} outside the TDMRs`);
    for (const r of t.reserved) {
      assert.ok(pa < t.base + r.offset || pa >= t.base + r.offset + r.size);
    }
    assert.equal(p.module.state.pamt.get(pa).pageType, "PT_NDA");
  }
});

Deno.test("freeHkid hands out private HKIDs not in use", () => {
  const p = new Platform();
  p.readyPlatform();
  const global = p.module.state.platform.globalHkid!;
  const a = p.freeHkid();
  const b = p.freeHkid();
  assert.notEqual(a, b);
  assert.notEqual(a, global);
  assert.ok(p.cpu.isPrivateKeyId(a) && p.cpu.isPrivateKeyId(b));
});
