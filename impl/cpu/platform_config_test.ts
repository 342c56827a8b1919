import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { Cpu, DEFAULT_PLATFORM } from "./cpu.ts";
import { lpPackagesOf, resolvePlatform } from "./platform_config.ts";

const spec = theSpec();

Deno.test("platform facts: defaults, derived packages and per-package FMS", () => {
  const r = resolvePlatform({ ...DEFAULT_PLATFORM, logicalProcessors: 6, packages: 3 });
  assert.deepEqual(r.lpPackages, [0, 0, 1, 1, 2, 2]);
  assert.equal(r.packageFms.length, 3);
  assert.deepEqual(r.cmrs, DEFAULT_PLATFORM.cmrs);
  assert.equal(r.smrr2, undefined);
  const mini = resolvePlatform({
    logicalProcessors: 2,
    maxPa: 46,
    keyIdBits: 4,
    sharedKeyIds: 7,
    privateKeyIds: 8,
  });
  assert.equal(mini.packages, 1);
  assert.deepEqual(mini.lpPackages, [0, 0]);
  assert.deepEqual(lpPackagesOf({ ...mini, lpPackages: [1, 0] }), [1, 0]);
});

Deno.test("platform MSRs: what firmware leaves for TDX", () => {
  const cpu = new Cpu(spec);
  const f = (name: string, layout = name) => cpu.msrs.decode(layout, cpu.msrs.readNamed(name)!);
  assert.equal(f("IA32_MISC_ENABLE").LIMIT_CPUID_MAXVAL, 0n);
  const cap = f("IA32_MTRRCAP");
  assert.deepEqual([cap.SMRR, cap.SMRR_LOCK, cap.SMRR2], [1n, 1n, 0n]);
  const mask = f("IA32_SMRR_PHYSMASK");
  assert.deepEqual([mask.LOCK, mask.VALID], [1n, 1n]);
  assert.equal(f("IA32_SMRR_PHYSBASE").BASE << 12n, DEFAULT_PLATFORM.smrr.range.base);
  assert.equal(((~(mask.MASK << 12n)) & 0xFFFF_FFFFn) + 1n, DEFAULT_PLATFORM.smrr.range.size);
  assert.equal(f("IA32_XAPIC_DISABLE_STATUS").LEGACY_XAPIC_DISABLED, 1n);
  assert.equal(f("IA32_MISC_PACKAGE_CTLS").ENERGY_FILTERING_ENABLE, 1n);
  assert.equal(f("IA32_PERF_CAPABILITIES").FULL_WRITE, 1n);
  assert.equal(cpu.msrs.readNamed("IA32_WBINVDP"), BigInt(DEFAULT_PLATFORM.cacheSubBlocks));
  assert.equal(cpu.msrs.readNamed("IA32_SEAMRR_PHYS_BASE"), DEFAULT_PLATFORM.seamrr.base);
  assert.equal(f("IA32_TME_ACTIVATE").LOCK, 1n);
  const cpu2 = new Cpu(spec, {
    ...DEFAULT_PLATFORM,
    smrr2: { range: { base: 0x7D00_0000n, size: 1n << 20n }, valid: true, locked: false },
  });
  assert.equal(cpu2.msrs.decode("IA32_MTRRCAP", cpu2.msrs.readNamed("IA32_MTRRCAP")!).SMRR2, 1n);
  const m2 = cpu2.msrs.decode("IA32_SMRR_PHYSMASK", cpu2.msrs.readNamed("IA32_SMRR2_PHYSMASK")!);
  assert.deepEqual([m2.LOCK, m2.VALID], [0n, 1n]);
});

Deno.test("per-LP MSRs shadow the platform value on that LP only", () => {
  const cpu = new Cpu(spec);
  const platform = cpu.rdmsrNamed(0, "IA32_TSC_ADJUST");
  cpu.setLpMsr(3, "IA32_TSC_ADJUST", 99n);
  assert.equal(cpu.rdmsrNamed(3, "IA32_TSC_ADJUST"), 99n);
  assert.equal(cpu.rdmsrNamed(2, "IA32_TSC_ADJUST"), platform);
  assert.equal(cpu.rdmsr(0, 0x1234n), undefined);
});

Deno.test("host interrupts pend per LP", () => {
  const cpu = new Cpu(spec);
  assert.equal(cpu.hostInterruptPending(1), false);
  cpu.pendHostInterrupt(1, true);
  assert.equal(cpu.hostInterruptPending(1), true);
  assert.equal(cpu.hostInterruptPending(0), false);
  cpu.pendHostInterrupt(1, false);
  assert.equal(cpu.hostInterruptPending(1), false);
});

Deno.test("PCONFIG programs keys per package; a busy key table or no entropy refuses", () => {
  const cpu = new Cpu(spec);
  assert.equal(cpu.pconfigRandomKey(0, 40), "ok");
  assert.ok(cpu.keyProgrammed(0, 40));
  assert.ok(!cpu.keyProgrammed(1, 40));
  cpu.setKeyTableBusy(1, true);
  assert.equal(cpu.pconfigRandomKey(2, 40), "busy");
  assert.equal(cpu.pconfigClearKey(3, 40), "busy");
  cpu.setKeyTableBusy(1, false);
  cpu.blockRng(true);
  assert.equal(cpu.pconfigRandomKey(2, 40), "entropy");
  cpu.blockRng(false);
  assert.equal(cpu.pconfigRandomKey(2, 40), "ok");
  assert.equal(cpu.pconfigClearKey(0, 40), "ok");
  assert.ok(!cpu.keyProgrammed(0, 40) && cpu.keyProgrammed(1, 40));
});

Deno.test("SEAMOPS capabilities: the platform's, unless an LP says otherwise", () => {
  const cpu = new Cpu(spec);
  assert.equal(cpu.seamopsCapabilities(0), DEFAULT_PLATFORM.seamCapabilities);
  cpu.lps[2].seamCapabilities = 1n;
  assert.equal(cpu.seamopsCapabilities(2), 1n);
  assert.equal(cpu.seamopsCapabilities(1), DEFAULT_PLATFORM.seamCapabilities);
});
