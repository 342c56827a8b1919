// The XFAM- and ATTRIBUTES-dependent CPUID rules of TDH.MNG.INIT on CPUID values that start
// as all ones, so every bit a rule clears shows.
import { strict as assert } from "node:assert";
import { decodeBits, encodeBits } from "../spec/bits.ts";
import { theSpec } from "../spec/mod.ts";
import { cpuidKey } from "./td_params.ts";
import { applyTdCpuidDeps, type TdCpuidDeps } from "./td_cpuid_xfam.ts";

const spec = theSpec();
const bits = (name: string, v: Record<string, bigint>) => encodeBits(spec.bitfield(name).fields, v);
const field = (name: string, value: number, f: string) =>
  decodeBits(spec.bitfield(name).fields, BigInt(value >>> 0)).fields[f];
const ONES = 0xFFFF_FFFF;

/** Every TD_CPUID_LOOKUP entry, all ones. */
function allOnes(): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const v of spec.enum("TD_CPUID_LOOKUP").values) {
    const raw = BigInt(v.value);
    out.set(cpuidKey(Number(raw & 0xFFFF_FFFFn), Number(raw >> 32n)), [ONES, ONES, ONES, ONES]);
  }
  return out;
}

/** Every XFAM component on. */
const XFAM_ALL = spec.bitfield("XFAM").fields
  .filter((f) => !f.reserved && f.name !== "RESERVED")
  .reduce((m, f) => m | bits("XFAM", { [f.name]: 1n }), 0n);
const without = (...names: string[]) =>
  names.reduce((m, n) => m & ~bits("XFAM", { [n]: 1n }), XFAM_ALL);

const deps = (o: Partial<TdCpuidDeps> = {}): TdCpuidDeps => ({
  xfam: XFAM_ALL,
  attributes: bits("TD_ATTRIBUTES", { PERFMON: 1n, PKS: 1n }),
  xsaveMaxSize: () => 0x2B00,
  xfdFaultingMask: bits("XFAM", { AMX_TILEDATA: 1n }),
  ...o,
});
const leafNo = (name: string) => Number(spec.enumValue("CPUID_LEAF", name));
const run = (o: Partial<TdCpuidDeps> = {}) => applyTdCpuidDeps(spec, allOnes(), deps(o));
const get = (m: Map<string, number[]>, leaf: number, subleaf = 0xFFFF_FFFF) =>
  m.get(cpuidKey(leaf, subleaf))!;
const mask = (name: string) => Number(spec.enumValue("TD_CPUID_XFAM_MASK", name));

Deno.test("TD CPUID: with every XFAM component and PERFMON, only computed values change", () => {
  const m = run();
  assert.deepEqual(get(m, leafNo("VERSION_INFO")), [ONES, ONES, ONES, ONES]);
  assert.deepEqual(get(m, 0x14, 0), [ONES, ONES, ONES, ONES]);
  assert.deepEqual(get(m, 0xA), [ONES, ONES, ONES, ONES]);
  assert.deepEqual(get(m, 0x1C), [ONES, ONES, ONES, ONES]);
  assert.deepEqual(get(m, 0x1D, 1), [ONES, ONES, ONES, ONES]);
  assert.deepEqual(get(m, leafNo("XSAVE_STATE"), 18), [ONES, ONES, ONES, ONES]);
  assert.equal(field("CPUID_0D_01_EAX", get(m, 0xD, 1)[0], "XFD_SUPPORT"), 1n);
});

Deno.test("TD CPUID: a TD whose XFAM lacks AVX-512 sees no AVX-512 features", () => {
  const m = run({ xfam: without("AVX512_OPMASK", "AVX512_ZMM_HI256", "AVX512_HI16_ZMM") });
  const [, ebx, ecx, edx] = get(m, leafNo("EXT_FEATURES"), 0);
  // AVX512F is CPUID(7,0).EBX[16]; the whole family goes with it.
  assert.equal((ebx >>> 16) & 1, 0);
  assert.equal(ebx & mask("LEAF_7_SUB_0.XFAM_5.EBX"), 0);
  assert.equal(ecx & mask("LEAF_7_SUB_0.XFAM_5.ECX"), 0);
  assert.equal(edx & mask("LEAF_7_SUB_0.XFAM_5.EDX"), 0);
  assert.equal(field("CPUID_07_00_EBX", ebx, "AVX2"), 1n, "AVX2 needs only XFAM.AVX");
  assert.equal(get(m, leafNo("EXT_FEATURES"), 1)[0] & mask("LEAF_7_SUB_1.XFAM_5.EAX"), 0);
  // Nor may it set the AVX-512 bits of XCR0, and their XSAVE sub-leaves are empty.
  assert.equal(get(m, leafNo("XSAVE_STATE"), 0)[0] & 0xE0, 0);
  for (const n of [5, 6, 7]) assert.deepEqual(get(m, leafNo("XSAVE_STATE"), n), [0, 0, 0, 0]);
  // One AVX-512 bit off is enough (the module's check_xfam keeps them together anyway).
  const one = run({ xfam: without("AVX512_HI16_ZMM") });
  assert.equal((get(one, leafNo("EXT_FEATURES"), 0)[1] >>> 16) & 1, 0);
});

Deno.test("TD CPUID: without XFAM.AVX, CPUID(1) hides AVX, FMA and F16C", () => {
  const ecx = get(run({ xfam: without("AVX", "AVX512_OPMASK") }), leafNo("VERSION_INFO"))[2];
  for (const f of ["AVX", "FMA", "F16C"]) assert.equal(field("CPUID_01_ECX", ecx, f), 0n, f);
  assert.equal(field("CPUID_01_ECX", ecx, "XSAVE"), 1n);
  const ebx7 = get(run({ xfam: without("AVX") }), leafNo("EXT_FEATURES"), 0)[1];
  assert.equal(field("CPUID_07_00_EBX", ebx7, "AVX2"), 0n);
});

Deno.test("TD CPUID: PT, LBR and AMX leaves are zero without their XFAM bits", () => {
  const pt = run({ xfam: without("PT") });
  assert.deepEqual(get(pt, 0x14, 0), [0, 0, 0, 0]);
  assert.deepEqual(get(pt, 0x14, 1), [0, 0, 0, 0]);
  assert.equal(get(pt, leafNo("EXT_FEATURES"), 0)[1] & mask("LEAF_7_SUB_0.XFAM_8.EBX"), 0);
  assert.deepEqual(get(run({ xfam: without("LBR") }), 0x1C), [0, 0, 0, 0]);
  const amx = run({ xfam: without("AMX_TILECFG") });
  assert.deepEqual(get(amx, 0x1D, 0), [0, 0, 0, 0]);
  assert.deepEqual(get(amx, 0x1D, 1), [0, 0, 0, 0]);
  assert.deepEqual(get(amx, leafNo("XSAVE_STATE"), 17), [0, 0, 0, 0]);
  assert.deepEqual(get(amx, leafNo("XSAVE_STATE"), 18), [ONES, ONES, ONES, ONES]);
  // tdx_1.5 leaves leaf 0x1E alone.
  assert.deepEqual(get(amx, 0x1E), [ONES, ONES, ONES, ONES]);
});

Deno.test("TD CPUID: leaf 0xA is zero without ATTRIBUTES.PERFMON", () => {
  assert.deepEqual(get(run({ attributes: 0n }), 0xA), [0, 0, 0, 0]);
});

Deno.test("TD CPUID: leaf 5 is zero when the TD's CPUID(1) has no MONITOR", () => {
  assert.deepEqual(get(run(), 5), [ONES, ONES, ONES, ONES]);
  const cpuid = allOnes();
  const monitor = Number(bits("CPUID_01_ECX", { MONITOR: 1n }));
  cpuid.get(cpuidKey(leafNo("VERSION_INFO"), 0xFFFF_FFFF))![2] = ONES & ~monitor;
  assert.deepEqual(get(applyTdCpuidDeps(spec, cpuid, deps()), 5), [0, 0, 0, 0]);
});

Deno.test("TD CPUID: Key Locker is never offered; PKS follows ATTRIBUTES.PKS", () => {
  const m = run();
  assert.deepEqual(get(m, 0x19), [0, 0, 0, 0]);
  const ecx = get(m, leafNo("EXT_FEATURES"), 0)[2];
  assert.equal(field("CPUID_07_00_ECX", ecx, "KL"), 0n);
  assert.equal(field("CPUID_07_00_ECX", ecx, "PKS"), 1n);
  const cpuid = allOnes();
  cpuid.get(cpuidKey(leafNo("EXT_FEATURES"), 0))![2] = 0;
  const pks = get(applyTdCpuidDeps(spec, cpuid, deps()), leafNo("EXT_FEATURES"), 0)[2];
  assert.equal(field("CPUID_07_00_ECX", pks, "PKS"), 1n, "set even if the CPU's value is 0");
  const off = get(run({ attributes: 0n }), leafNo("EXT_FEATURES"), 0)[2];
  assert.equal(field("CPUID_07_00_ECX", off, "PKS"), 0n);
});

Deno.test("TD CPUID: CPUID(0xD,0).ECX is the XSAVE size of XFAM's user components", () => {
  let asked: bigint | undefined;
  const xfam = without("AMX_TILECFG", "AMX_TILEDATA");
  const m = run({ xfam, xsaveMaxSize: (x) => (asked = x, 2696) });
  assert.equal(get(m, leafNo("XSAVE_STATE"), 0)[2], 2696);
  // PT and CET are supervisor (IA32_XSS) components: not part of the XCR0 size.
  assert.equal(asked, xfam & BigInt(spec.enumValue("TDX_MODULE_LIMITS", "XCR0_USER_BIT_MASK")));
});

Deno.test("TD CPUID: XFD support only if an XFAM component is XFD-faulting", () => {
  const eax = (o: Partial<TdCpuidDeps>) => get(run(o), leafNo("XSAVE_STATE"), 1)[0];
  const xfd = (v: number) => field("CPUID_0D_01_EAX", v, "XFD_SUPPORT");
  assert.equal(xfd(eax({ xfam: without("AMX_TILECFG", "AMX_TILEDATA") })), 0n);
  assert.equal(xfd(eax({ xfdFaultingMask: 0n })), 0n);
  assert.equal(xfd(eax({})), 1n);
});

Deno.test("TD CPUID: CPUID(0x80000008).EAX.LA_BITS follows the TD's LA57", () => {
  const la = (m: Map<string, number[]>) =>
    field("CPUID_80000008_EAX", get(m, leafNo("ADDRESS_SIZES"))[0], "LA_BITS");
  assert.equal(la(run()), 57n);
  const cpuid = allOnes();
  const la57 = Number(bits("CPUID_07_00_ECX", { LA57: 1n }));
  cpuid.get(cpuidKey(leafNo("EXT_FEATURES"), 0))![2] = ONES & ~la57;
  assert.equal(la(applyTdCpuidDeps(spec, cpuid, deps())), 48n);
});

Deno.test("TD CPUID: the input values are left as they were", () => {
  const cpuid = allOnes();
  applyTdCpuidDeps(spec, cpuid, deps({ xfam: 3n, attributes: 0n }));
  assert.deepEqual([...cpuid.values()].flat().filter((v) => v !== ONES), []);
});
