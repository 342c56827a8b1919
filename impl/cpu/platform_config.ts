// What the modelled platform is made of, as firmware and MCHECK leave it before the TDX
// module is loaded: logical processors and the package each sits in, memory encryption
// (KeyIDs), the convertible memory ranges (CMRs) MCHECK hands over, the SEAM range,
// the SMM ranges, SEAMOPS capabilities and the cache sub-blocks WBINVD walks.
//
// Every fact has a default a TDX module accepts; a test that wants the module to refuse
// the platform changes one fact here (or one MSR / CPUID value on the Cpu).

export interface MemoryRange {
  base: bigint;
  size: bigint;
}

export interface SmrrConfig {
  range: MemoryRange;
  /** IA32_SMRR*_PHYSMASK.VALID. */
  valid: boolean;
  /** IA32_SMRR*_PHYSMASK.LOCK. */
  locked: boolean;
}

export interface PlatformConfig {
  logicalProcessors: number;
  maxPa: number;
  /** KeyID bits in a physical address (IA32_TME_ACTIVATE.MK_TME_KEYID_BITS). */
  keyIdBits: number;
  sharedKeyIds: number;
  privateKeyIds: number;
  /** CPU packages (sockets), as MCHECK counts them. */
  packages?: number;
  /**
   * Package of each LP, by LP index. Defaults to consecutive LPs filling the packages
   * evenly. A value at or above the module's package limit models an x2APIC ID the
   * module cannot map.
   */
  lpPackages?: number[];
  /** CMRs as MCHECK leaves them in the SEAM loader's table, in order. */
  cmrs?: MemoryRange[];
  /** The SEAM range (IA32_SEAMRR_PHYS_BASE/MASK): memory that holds the TDX module. */
  seamrr?: MemoryRange;
  smrr?: SmrrConfig;
  /** SMRR2, or undefined when the CPU has none (IA32_MTRRCAP.SMRR2 = 0). */
  smrr2?: SmrrConfig;
  /** SEAMOPS leaf 0 (bitfield SEAMOPS_CAPABILITIES), the same on every LP unless overridden. */
  seamCapabilities?: bigint;
  /** Cache sub-blocks a package-scope WBINVDP / WBNOINVDP walks. */
  cacheSubBlocks?: number;
  /** MCHECK's flag that TDX runs without memory integrity. */
  tdxWithoutIntegrity?: boolean;
  /** Family/model/stepping (CPUID.1.EAX) of each package, as MCHECK records them. */
  packageFms?: number[];
}

const GiB = 1n << 30n;
const MiB = 1n << 20n;

/**
 * Two packages of two LPs, and memory as a small two-socket server would have it: a low
 * CMR ending below a hole that holds SMRAM and the SEAM range, and a second CMR above
 * 4 GiB.
 */
export const DEFAULT_PLATFORM: PlatformConfig & Omit<ResolvedPlatform, "lpPackages"> = {
  logicalProcessors: 4,
  maxPa: 52,
  keyIdBits: 6,
  sharedKeyIds: 31,
  privateKeyIds: 32,
  packages: 2,
  cmrs: [
    { base: 0n, size: 2n * GiB - 64n * MiB },
    { base: 4n * GiB, size: 2n * GiB },
  ],
  seamrr: { base: 2n * GiB - 32n * MiB, size: 32n * MiB },
  smrr: { range: { base: 2n * GiB - 64n * MiB, size: 8n * MiB }, valid: true, locked: true },
  // Bits the TDX module needs for TD-preserving update, plus SEAMVERIFYREPORT.
  seamCapabilities: 0x7Fn,
  cacheSubBlocks: 16,
  tdxWithoutIntegrity: false,
  packageFms: [0x806F8, 0x806F8],
};

/** A platform with every optional fact filled in (SMRR2 stays optional: absent = none). */
export type ResolvedPlatform = Required<Omit<PlatformConfig, "smrr2">> & { smrr2?: SmrrConfig };

export function resolvePlatform(config: PlatformConfig): ResolvedPlatform {
  const packages = config.packages ?? (config.lpPackages ? Math.max(...config.lpPackages) + 1 : 1);
  const withPackages = { ...config, packages };
  return {
    ...DEFAULT_PLATFORM,
    smrr2: undefined,
    ...config,
    packages,
    lpPackages: lpPackagesOf(withPackages),
    packageFms: config.packageFms?.length === packages
      ? config.packageFms
      : Array.from({ length: packages }, () => DEFAULT_PLATFORM.packageFms[0]),
  };
}

/** The package of every LP. */
export function lpPackagesOf(config: PlatformConfig): number[] {
  if (config.lpPackages) return [...config.lpPackages];
  const packages = Math.max(1, config.packages ?? 1);
  const per = Math.ceil(config.logicalProcessors / packages);
  return Array.from({ length: config.logicalProcessors }, (_, i) => Math.floor(i / per));
}

/** LPs per package as the topology enumerates them (the largest package). */
export function lpsPerPackage(config: PlatformConfig): number {
  const counts = new Map<number, number>();
  for (const p of lpPackagesOf(config)) counts.set(p, (counts.get(p) ?? 0) + 1);
  return Math.max(1, ...counts.values());
}
