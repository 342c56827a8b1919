// XSAVE area size and XFD faulting components from CPUID leaf 0xD as the CPU model gives it.
import { strict as assert } from "node:assert";
import { encodeBits } from "../spec/bits.ts";
import { theSpec } from "../spec/mod.ts";
import { Platform } from "./testing/fixture.ts";
import { xfdFaultingMask, xsaveComponentNumbers, xsaveMaxSize } from "./xsave_components.ts";

const spec = theSpec();
const X = (...names: string[]) =>
  encodeBits(spec.bitfield("XFAM").fields, Object.fromEntries(names.map((n) => [n, 1n])));
const XSAVE = Number(spec.enumValue("CPUID_LEAF", "XSAVE_STATE"));

Deno.test("XSAVE components: the module samples sub-leaves 2 to 18", () => {
  const n = xsaveComponentNumbers(spec);
  assert.equal(n[0], 2);
  assert.equal(n.at(-1), 18);
  assert.equal(n.length, 17);
});

Deno.test("XSAVE size: the end of the last enabled component, at least legacy area + header", () => {
  const p = new Platform();
  const cpuid = (leaf: number, subleaf: number) => p.cpu.cpuidOn(0, leaf, subleaf);
  assert.equal(xsaveMaxSize(spec, X("X87", "SSE"), cpuid), 576);
  assert.equal(xsaveMaxSize(spec, X("X87", "SSE", "AVX"), cpuid), 576 + 256);
  const avx512 = ["AVX", "AVX512_OPMASK", "AVX512_ZMM_HI256", "AVX512_HI16_ZMM"];
  assert.equal(xsaveMaxSize(spec, X("X87", "SSE", ...avx512), cpuid), 1664 + 1024);
  // With AMX too, it is the CPU's own CPUID(0xD,0).ECX (all its user components).
  const all = X("X87", "SSE", ...avx512, "PKRU", "AMX_TILECFG", "AMX_TILEDATA");
  assert.equal(xsaveMaxSize(spec, all, cpuid), cpuid(XSAVE, 0).ecx);
});

Deno.test("XFD faulting mask: components with ECX.XFD_FAULTING, none without XFD support", () => {
  const p = new Platform();
  const cpuid = (leaf: number, subleaf: number) => p.cpu.cpuidOn(0, leaf, subleaf);
  assert.equal(xfdFaultingMask(spec, cpuid), X("AMX_TILEDATA"));
  const xfd = Number(encodeBits(spec.bitfield("CPUID_0D_01_EAX").fields, { XFD_SUPPORT: 1n }));
  p.cpu.cpuid.patch(XSAVE, 1, { eax: cpuid(XSAVE, 1).eax & ~xfd });
  assert.equal(xfdFaultingMask(spec, cpuid), 0n);
});
