import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { decodeBits } from "../spec/bits.ts";
import { Cpu, DEFAULT_PLATFORM } from "./cpu.ts";

const spec = theSpec();
const leaf = (n: string) => Number(spec.enumValue("CPUID_LEAF", n));
const fields = (bitfield: string, v: number) =>
  decodeBits(spec.bitfield(bitfield).fields, BigInt(v >>> 0)).fields;

Deno.test("CPUID: GenuineIntel, the leaves the module needs, MAX_PA from the platform", () => {
  const cpu = new Cpu(spec);
  const v0 = cpu.cpuidOn(0, leaf("MAX_BASIC"));
  assert.ok(v0.eax >= 0x1F);
  const vendor = [v0.ebx, v0.edx, v0.ecx].map((r) =>
    String.fromCharCode(r & 0xFF, (r >> 8) & 0xFF, (r >> 16) & 0xFF, r >>> 24)
  ).join("");
  assert.equal(vendor, "GenuineIntel");
  assert.equal(cpu.cpuidOn(0, leaf("MAX_EXTENDED")).eax >>> 0, 0x80000008);
  const sizes = fields("CPUID_80000008_EAX", cpu.cpuidOn(0, leaf("ADDRESS_SIZES")).eax);
  assert.equal(sizes.PA_BITS, BigInt(DEFAULT_PLATFORM.maxPa));
  assert.ok(cpu.cpuidOn(0, leaf("TSC_CRYSTAL")).ebx > 0);
  // A leaf the model does not describe reads as zeros.
  assert.deepEqual(cpu.cpuidOn(0, 0x12, 0), { eax: 0, ebx: 0, ecx: 0, edx: 0 });
});

Deno.test("CPUID: x2APIC IDs place each LP in its package and the L3 spans the package", () => {
  const cpu = new Cpu(spec, { ...DEFAULT_PLATFORM, logicalProcessors: 6, packages: 3 });
  const topo = leaf("V2_TOPOLOGY");
  const shifts: number[] = [];
  for (let sub = 0;; sub++) {
    const v = cpu.cpuidOn(0, topo, sub);
    const f = fields("CPUID_1F_ECX", v.ecx);
    if (f.LEVEL_TYPE === 0n) break;
    assert.equal(f.LEVEL_NUMBER, BigInt(sub));
    shifts.push(Number(fields("CPUID_1F_EAX", v.eax).SHIFT));
  }
  const pkgShift = shifts[shifts.length - 1];
  for (const lp of cpu.lps) {
    const x2apic = cpu.cpuidOn(lp.id, topo, 0).edx;
    assert.equal(x2apic >>> pkgShift, cpu.packageOf(lp.id));
    // Every sub-leaf reports the same x2APIC ID; leaf 1 has its low 8 bits.
    assert.equal(cpu.cpuidOn(lp.id, topo, 1).edx, x2apic);
    assert.equal(cpu.cpuidOn(lp.id, leaf("VERSION_INFO")).ebx >>> 24, x2apic & 0xFF);
  }
  const l3 = fields("CPUID_04_EAX", cpu.cpuidOn(0, leaf("CACHE_PARAMS"), 3).eax);
  assert.equal(l3.CACHE_LEVEL, 3n);
  assert.equal(Number(l3.MAX_LPS_SHARING_CACHE) + 1, 1 << pkgShift);
});

Deno.test("CPUID: a leaf can be changed on one LP or on all", () => {
  const cpu = new Cpu(spec);
  const l7 = leaf("EXT_FEATURES");
  const before = cpu.cpuidOn(0, l7, 0);
  cpu.cpuid.set(l7, 0, { ...before, ebx: 0 }, 2);
  assert.equal(cpu.cpuidOn(2, l7, 0).ebx, 0);
  assert.equal(cpu.cpuidOn(1, l7, 0).ebx, before.ebx);
  cpu.cpuid.patch(l7, 0, { ecx: 0x1234 });
  for (const lp of [0, 1, 3]) assert.equal(cpu.cpuidOn(lp, l7, 0).ecx, 0x1234);
  // A platform-wide set drops the per-LP value.
  cpu.cpuid.set(l7, 0, before);
  assert.deepEqual(cpu.cpuidOn(2, l7, 0), before);
  assert.throws(() => cpu.cpuid.set(l7, 0, before, 9), RangeError);
});

Deno.test("CPUID: IA32_MISC_ENABLE's limit bit caps the highest basic leaf at 2", () => {
  const cpu = new Cpu(spec);
  cpu.setLpMsr(
    1,
    "IA32_MISC_ENABLE",
    cpu.msrs.encode("IA32_MISC_ENABLE", { LIMIT_CPUID_MAXVAL: 1n }),
  );
  assert.equal(cpu.cpuidOn(1, leaf("MAX_BASIC")).eax, 2);
  assert.ok(cpu.cpuidOn(0, leaf("MAX_BASIC")).eax > 2);
});

Deno.test("CPUID: XSAVE enumerates x87 and SSE among the user components", () => {
  const cpu = new Cpu(spec);
  const xcr0 = cpu.cpuidOn(0, leaf("XSAVE_STATE"), 0).eax;
  assert.equal(xcr0 & 3, 3);
  assert.ok(cpu.cpuidOn(0, leaf("XSAVE_STATE"), 2).eax > 0);
});
