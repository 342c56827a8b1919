import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { parseHex } from "../spec/hex.ts";
import { applyCpuidFixed, cpuidFixed } from "./cpuid_fixed.ts";

const spec = theSpec();
const leaf = (name: string) => Number(spec.enumValue("CPUID_LEAF", name));

Deno.test("TD_CPUID_FIXED names a lookup entry, a mask kind and a register; the kinds never overlap", () => {
  const entries = new Set(spec.enum("TD_CPUID_LOOKUP").values.map((v) => v.name));
  const byName = new Map<string, bigint>();
  for (const v of spec.enum("TD_CPUID_FIXED").values) {
    const m = /^(.+)\.(FIXED1|FIXED0_OR_DYNAMIC)\.(EAX|EBX|ECX|EDX)$/.exec(v.name);
    assert.ok(m && entries.has(m[1]), v.name);
    const mask = parseHex(v.value);
    assert.ok(mask > 0n && mask <= 0xFFFF_FFFFn, v.name);
    byName.set(v.name, mask);
  }
  for (const [name, fixed1] of byName) {
    if (!name.includes(".FIXED1.")) continue;
    const other = byName.get(name.replace(".FIXED1.", ".FIXED0_OR_DYNAMIC.")) ?? 0n;
    assert.equal(fixed1 & other, 0n, name);
  }
});

Deno.test("CPUID(1): the hypervisor and APIC bits are forced on, the APIC ID and OSXSAVE off", () => {
  const f = cpuidFixed(spec, leaf("VERSION_INFO"), 0xFFFF_FFFF)!;
  const ecx = spec.bitfield("CPUID_01_ECX").fields;
  const bit = (name: string) => 1 << ecx.find((x) => x.name === name)!.bits[0];
  const native = { eax: 0x806F8, ebx: 0x0500_0800, ecx: bit("OSXSAVE") | bit("SSE3"), edx: 0 };
  const v = applyCpuidFixed(native, f);
  assert.equal(v.eax, 0x806F8);
  assert.equal(v.ebx, 0x0800);
  assert.equal(v.ecx, (bit("HYPERVISOR") | bit("SSE3")) >>> 0);
  assert.equal(v.edx, 0x200);
});

Deno.test("a leaf without sub-leaves is found by 0xFFFFFFFF; one outside the table has no masks", () => {
  assert.ok(cpuidFixed(spec, leaf("MAX_BASIC"), 0xFFFF_FFFF));
  assert.equal(cpuidFixed(spec, leaf("MAX_BASIC"), 0), undefined);
  assert.equal(cpuidFixed(spec, 0x4000_0000, 0xFFFF_FFFF), undefined);
  // CPUID(0).EAX: the highest basic leaf a TD sees is the module's, whatever the CPU has.
  const f = cpuidFixed(spec, leaf("MAX_BASIC"), 0xFFFF_FFFF)!;
  assert.equal(applyCpuidFixed({ eax: 0x24, ebx: 1, ecx: 2, edx: 3 }, f).eax, 0x23);
  assert.equal(applyCpuidFixed({ eax: 0x1F, ebx: 1, ecx: 2, edx: 3 }, f).eax, 0x23);
});
