// TD_PARAMS checks as a pure function of the decoded struct and the platform facts.
import { strict as assert } from "node:assert";
import { encodeBits } from "../spec/bits.ts";
import { theSpec } from "../spec/mod.ts";
import { StructCodec } from "../spec/codec.ts";
import { tdParams, type TdParamsOptions } from "./testing/td_fixture.ts";
import {
  cpuidConfigurable,
  cpuidKey,
  evaluateTdParams,
  type TdConfigurability,
  type TdParamsEnv,
  tscVirtualization,
} from "./td_params.ts";
import { tdxLimit } from "./td_limits.ts";

const spec = theSpec();
const bits = (name: string, v: Record<string, bigint>) => encodeBits(spec.bitfield(name).fields, v);

const conf: TdConfigurability = {
  attributesFixed0: tdxLimit(spec, "TDX_ATTRIBUTES_FIXED0"),
  attributesFixed1: 0n,
  xfamFixed0: tdxLimit(spec, "TDX_XFAM_FIXED0"),
  xfamFixed1: tdxLimit(spec, "TDX_XFAM_FIXED1"),
  configFlagsFixed0: tdxLimit(spec, "CONFIG_FLAGS_FIXED0"),
  configFlagsFixed1: 0n,
};
const FMS = 0x806F8;
const env = (o: Partial<TdParamsEnv> = {}): TdParamsEnv => ({
  conf,
  numTdcx: 6,
  pml5Supported: true,
  maxPa: 52,
  septRoot: 0x7000n,
  tscAdjustConsistent: true,
  nativeCpuid: (leaf) => ({ eax: leaf === 1 ? FMS : 0, ebx: 0, ecx: 0, edx: 0 }),
  platformFms: FMS,
  archCapabilities: 0n,
  nativeTscFrequency: 2_100_000_000n,
  tsc: 0n,
  xsaveMaxSize: () => 576,
  xfdFaultingMask: 0n,
  ...o,
});
const codec = new StructCodec(spec);
/** TD_PARAMS as TDH.MNG.INIT sees it: the bytes decoded by the codec (reserved areas included). */
const verdict = (o: TdParamsOptions, e: Partial<TdParamsEnv> = {}) => {
  const bytes = codec.encode("TD_PARAMS", tdParams(spec, o));
  return evaluateTdParams(spec, codec.decode("TD_PARAMS", bytes).value, env(e));
};
const failure = (o: TdParamsOptions, e: Partial<TdParamsEnv> = {}) => {
  const v = verdict(o, e);
  return v.ok ? "accepted" : `${v.status}/${v.detail ?? "-"}`;
};
const X = (v: Record<string, bigint>) => bits("XFAM", { X87: 1n, SSE: 1n, ...v });

Deno.test("TD_PARAMS: the fixture's defaults are accepted; EPTP gets the SEPT root", () => {
  const v = verdict({});
  assert.ok(v.ok);
  const base = spec.bitfield("EPTP_CONTROLS").fields.find((f) => f.name === "BASE_PA")!;
  assert.equal((v.config.eptp >> BigInt(base.bits[0])) << 12n, 0x7000n);
});

Deno.test("TD_PARAMS: XFAM combinations the CPU saves only together", () => {
  assert.equal(failure({ xfam: X({ AVX: 1n, AVX512_OPMASK: 1n }) }), "TDX_OPERAND_INVALID/XFAM");
  const avx512 = { AVX512_OPMASK: 1n, AVX512_ZMM_HI256: 1n, AVX512_HI16_ZMM: 1n };
  assert.equal(failure({ xfam: X({ AVX: 1n, ...avx512 }) }), "accepted");
  assert.equal(failure({ xfam: X({ AMX_TILECFG: 1n }) }), "TDX_OPERAND_INVALID/XFAM");
  assert.equal(failure({ xfam: X({ AMX_TILECFG: 1n, AMX_TILEDATA: 1n }) }), "accepted");
  assert.equal(failure({ xfam: X({ CET_U: 1n, CET_S: 1n }) }), "accepted");
});

Deno.test("TD_PARAMS: a 5-level EPT needs MAX_PA of at least 49 and platform support", () => {
  const five = { gpaw52: true };
  assert.equal(failure(five), "accepted");
  assert.equal(failure(five, { maxPa: 48 }), "TDX_OPERAND_INVALID/EPTP_CONTROLS");
  assert.equal(failure(five, { pml5Supported: false }), "TDX_OPERAND_INVALID/EPTP_CONTROLS");
});

Deno.test("TD_PARAMS: a migratable TD may claim an older stepping of the platform's model", () => {
  const migratable = bits("TD_ATTRIBUTES", { MIGRATABLE: 1n });
  const cpuid = (eax: number) => ({ 0: { eax } });
  assert.equal(failure({ attributes: migratable, cpuid: cpuid(FMS - 1) }), "accepted");
  assert.equal(
    failure({ attributes: migratable, cpuid: cpuid(FMS + 1) }),
    "TDX_OPERAND_INVALID/CPUID_CONFIG",
  );
  assert.equal(failure({ cpuid: cpuid(FMS - 1) }), "TDX_OPERAND_INVALID/CPUID_CONFIG");
  assert.equal(
    failure({ attributes: migratable | bits("TD_ATTRIBUTES", { PERFMON: 1n }) }),
    "TDX_OPERAND_INVALID/ATTRIBUTES",
  );
});

Deno.test("TD_PARAMS: the virtual TSC runs at TSC_FREQUENCY x 25 MHz and starts at 0", () => {
  const native = 2_100_000_000n;
  const tsc = 123_456_789_000n;
  const { multiplier, offset } = tscVirtualization(spec, 100, native, tsc);
  const virt = (t: bigint) => (((t * multiplier) >> 48n) + offset) & 0xFFFF_FFFF_FFFF_FFFFn;
  assert.equal(virt(tsc), 0n);
  // One native second later, about 2.5 G virtual ticks have passed.
  const later = virt(tsc + native);
  assert.ok(later > 2_499_999_000n && later <= 2_500_000_000n, `${later}`);
});

Deno.test("TD_PARAMS: a configurable leaf's fixed bits are applied before the configuration", () => {
  // Natively: an APIC ID in EBX[31:24], PSN (EDX[17], FIXED0), no hypervisor bit (ECX[31],
  // FIXED1) and no APIC bit (EDX[9], FIXED1).
  const nativeCpuid = (leaf: number) =>
    leaf === 1
      ? { eax: FMS, ebx: 0x0500_0800, ecx: 0, edx: 1 << 17 }
      : { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  const v = verdict({}, { nativeCpuid });
  assert.ok(v.ok);
  const [eax, ebx, ecx, edx] = v.config.cpuid.get(cpuidKey(1, 0xFFFF_FFFF))!;
  assert.equal(eax, FMS);
  assert.equal(ebx, 0x0800);
  assert.equal(ecx >>> 31, 1);
  assert.equal(edx, 1 << 9);
});

Deno.test("TD_PARAMS: the TD's CPUID follows its XFAM and ATTRIBUTES", () => {
  // A CPU that enumerates everything, so that whatever the module clears shows.
  const ones = 0xFFFF_FFFF;
  const nativeCpuid = (leaf: number) =>
    leaf === 1 ? { eax: FMS, ebx: ones, ecx: ones, edx: ones } : {
      eax: ones,
      ebx: ones,
      ecx: ones,
      edx: ones,
    };
  const avx512 = { AVX512_OPMASK: 1n, AVX512_ZMM_HI256: 1n, AVX512_HI16_ZMM: 1n };
  const cpuidOf = (o: TdParamsOptions) => {
    const v = verdict(o, { nativeCpuid, xsaveMaxSize: (xcr0) => Number(xcr0) });
    assert.ok(v.ok, v.ok ? "" : `${v.status}/${v.detail}`);
    return (leaf: number, subleaf = 0xFFFF_FFFF) => v.config.cpuid.get(cpuidKey(leaf, subleaf))!;
  };
  // The host asks for AVX512F (CPUID(7,0).EBX[16], allow-direct) in both TDs.
  const leaf7 = cpuidConfigurable(spec).findIndex((e) => e.leaf === 7 && e.subleaf === 0);
  const cpuid = { [leaf7]: { ebx: 1 << 16 } };
  const full = cpuidOf({
    xfam: X({ AVX: 1n, ...avx512, PT: 1n }),
    attributes: bits("TD_ATTRIBUTES", { PERFMON: 1n }),
    cpuid,
  });
  const plain = cpuidOf({ xfam: X({ AVX: 1n }), cpuid });
  // AVX512F (CPUID(7,0).EBX[16]) only with the AVX-512 XFAM bits.
  assert.equal((full(7, 0)[1] >>> 16) & 1, 1);
  assert.equal((plain(7, 0)[1] >>> 16) & 1, 0);
  // Processor trace only with XFAM.PT; the PMU leaf only with ATTRIBUTES.PERFMON.
  assert.notDeepEqual(full(0x14, 0), [0, 0, 0, 0]);
  assert.deepEqual(plain(0x14, 0), [0, 0, 0, 0]);
  assert.notDeepEqual(full(0xA), [0, 0, 0, 0]);
  assert.deepEqual(plain(0xA), [0, 0, 0, 0]);
  // CPUID(0xD,0).ECX: the XSAVE size for XFAM's user components (here the XCR0 asked for).
  assert.equal(plain(0xD, 0)[2], Number(X({ AVX: 1n })));
  // Key Locker is never offered.
  assert.deepEqual(full(0x19), [0, 0, 0, 0]);
});
