// CPUID as each logical processor answers it. The platform has one table of leaves;
// values that differ per LP (the x2APIC ID in leaves 1 and 0x1F) are generated per LP,
// and a test can override any leaf on one LP or on all of them. Leaf numbers and bit
// layouts come from the spec (enum CPUID_LEAF, bitfields CPUID_*).
import type { Spec } from "../spec/mod.ts";
import { encodeBits } from "../spec/bits.ts";
import { lpsPerPackage, type ResolvedPlatform } from "./platform_config.ts";

export interface CpuidValues {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

const ZERO: Readonly<CpuidValues> = Object.freeze({ eax: 0, ebx: 0, ecx: 0, edx: 0 });
/** Key of a leaf that ignores the sub-leaf. */
const ANY = "*";

function key(leaf: number, subleaf: number | typeof ANY): string {
  return `${leaf >>> 0}:${subleaf === ANY ? ANY : subleaf >>> 0}`;
}

/** Bits needed to hold `n` distinct IDs (at least 1, so that a level always has a shift). */
function bitsFor(n: number): number {
  let b = 0;
  while ((1 << b) < n) b++;
  return Math.max(1, b);
}

export class CpuidModel {
  private readonly platform = new Map<string, CpuidValues>();
  private readonly perLp: Map<string, CpuidValues>[];
  /** Bits of the x2APIC ID below the package ID. */
  readonly packageShift: number;
  /** Bits of the x2APIC ID below the core ID. */
  readonly smtShift: number;
  readonly x2apicIds: number[];

  constructor(readonly spec: Spec, platform: ResolvedPlatform) {
    const perPackage = lpsPerPackage(platform);
    const threadsPerCore = perPackage % 2 === 0 ? 2 : 1;
    this.smtShift = bitsFor(threadsPerCore);
    this.packageShift = Math.max(this.smtShift, bitsFor(perPackage));
    const seen = new Map<number, number>();
    this.x2apicIds = platform.lpPackages.map((pkg) => {
      const local = seen.get(pkg) ?? 0;
      seen.set(pkg, local + 1);
      return (pkg << this.packageShift) | local;
    });
    this.perLp = this.x2apicIds.map(() => new Map());
    this.fillDefaults(platform, perPackage, threadsPerCore);
  }

  private leafNo(name: string): number {
    return Number(this.spec.enumValue("CPUID_LEAF", name));
  }

  private bits(bitfield: string, values: Record<string, bigint | number>): number {
    const v = Object.fromEntries(Object.entries(values).map(([k, x]) => [k, BigInt(x)]));
    return Number(encodeBits(this.spec.bitfield(bitfield).fields, v));
  }

  private levelType(name: string): number {
    return Number(this.spec.enumValue("CPUID_TOPOLOGY_LEVEL_TYPE", name));
  }

  private fillDefaults(p: ResolvedPlatform, perPackage: number, threadsPerCore: number): void {
    const L = (n: string) => this.leafNo(n);
    // "GenuineIntel" in EBX, EDX, ECX; the highest basic leaf the module virtualises.
    this.set(L("MAX_BASIC"), ANY, {
      eax: 0x23,
      ebx: 0x756E6547,
      edx: 0x49656E69,
      ecx: 0x6C65746E,
    });
    const fms = Math.min(...p.packageFms);
    const ecx1 = this.bits("CPUID_01_ECX", {
      SSE3: 1,
      PCLMULQDQ: 1,
      VMX: 1,
      SMX: 1,
      SSSE3: 1,
      FMA: 1,
      CMPXCHG16B: 1,
      PDCM: 1,
      PCID: 1,
      SSE4_1: 1,
      SSE4_2: 1,
      X2APIC: 1,
      MOVBE: 1,
      POPCNT: 1,
      TSC_DEADLINE: 1,
      AESNI: 1,
      XSAVE: 1,
      AVX: 1,
      F16C: 1,
      RDRAND: 1,
    });
    this.set(L("VERSION_INFO"), ANY, { eax: fms, ebx: 0, ecx: ecx1, edx: 0xBFEBFBFF });
    // Caches: L1D, L1I, L2 per core; L3 per package (WBINVD has package scope).
    const cache = (type: number, level: number, sharing: number) =>
      this.bits("CPUID_04_EAX", {
        CACHE_TYPE: type,
        CACHE_LEVEL: level,
        SELF_INITIALIZING: 1,
        MAX_LPS_SHARING_CACHE: sharing - 1,
        MAX_CORES_IN_PACKAGE: Math.max(1, perPackage / threadsPerCore) - 1,
      });
    const core = 1 << this.smtShift;
    const pkg = 1 << this.packageShift;
    const leaf4 = L("CACHE_PARAMS");
    this.set(leaf4, 0, { eax: cache(1, 1, core), ebx: 0x00C0003F, ecx: 0x3F, edx: 0 });
    this.set(leaf4, 1, { eax: cache(2, 1, core), ebx: 0x01C0003F, ecx: 0x3F, edx: 0 });
    this.set(leaf4, 2, { eax: cache(3, 2, core), ebx: 0x03C0003F, ecx: 0x7FF, edx: 0 });
    this.set(leaf4, 3, { eax: cache(3, 3, pkg), ebx: 0x03C0003F, ecx: 0xBFFF, edx: 4 });
    this.set(leaf4, 4, { ...ZERO });
    const leaf7 = L("EXT_FEATURES");
    this.set(leaf7, 0, {
      eax: 2,
      ebx: this.bits("CPUID_07_00_EBX", {
        FSGSBASE: 1,
        TSC_ADJUST: 1,
        BMI1: 1,
        AVX2: 1,
        FDP_EXCPTN_ONLY: 1,
        SMEP: 1,
        BMI2: 1,
        ERMS: 1,
        INVPCID: 1,
        RDSEED: 1,
        ADX: 1,
        SMAP: 1,
      }),
      ecx: 0,
      edx: 0,
    });
    // XSAVE: user components x87, SSE, AVX, AVX-512 (opmask, ZMM_Hi256, Hi16_ZMM), PKRU,
    // AMX (XTILECFG, XTILEDATA); supervisor components PT, CET_U, CET_S. Sub-leaf n >= 2
    // gives component n's size (EAX) and offset (EBX).
    const xsave = L("XSAVE_STATE");
    this.set(xsave, 0, { eax: 0x602E7, ebx: 0x2B00, ecx: 0x2B00, edx: 0 });
    this.set(xsave, 1, { eax: 0x1F, ebx: 0x2C00, ecx: 0x1900, edx: 0 });
    const components: [number, number, number, number][] = [
      [2, 256, 576, 0],
      [5, 64, 1088, 0],
      [6, 512, 1152, 0],
      [7, 1024, 1664, 0],
      [8, 128, 0, 1],
      [9, 8, 2688, 0],
      [11, 16, 0, 1],
      [12, 24, 0, 1],
      [17, 64, 2752, 2],
      [18, 8192, 2816, 6],
    ];
    for (const [n, size, offset, ecx] of components) {
      this.set(xsave, n, { eax: size, ebx: offset, ecx, edx: 0 });
    }
    // TSC = crystal (25 MHz) * EBX / EAX.
    this.set(L("TSC_CRYSTAL"), ANY, { eax: 2, ebx: 168, ecx: 25_000_000, edx: 0 });
    this.set(L("MAX_EXTENDED"), ANY, { eax: L("ADDRESS_SIZES"), ebx: 0, ecx: 0, edx: 0 });
    this.set(L("ADDRESS_SIZES"), ANY, {
      eax: this.bits("CPUID_80000008_EAX", { PA_BITS: p.maxPa, LA_BITS: 48 }),
      ebx: 0,
      ecx: 0,
      edx: 0,
    });
    // Per LP: the initial APIC ID in leaf 1 and the x2APIC ID in every leaf 0x1F level.
    const topo = L("V2_TOPOLOGY");
    const levels = [
      { shift: this.smtShift, count: threadsPerCore, type: this.levelType("SMT") },
      { shift: this.packageShift, count: perPackage, type: this.levelType("CORE") },
      { shift: 0, count: 0, type: this.levelType("INVALID") },
    ];
    this.x2apicIds.forEach((id, lp) => {
      const v1 = this.read(lp, L("VERSION_INFO"), 0);
      this.set(L("VERSION_INFO"), ANY, { ...v1, ebx: ((id & 0xFF) << 24) | 0x0800 }, lp);
      levels.forEach((lv, i) => {
        this.set(topo, i, {
          eax: this.bits("CPUID_1F_EAX", { SHIFT: lv.shift }),
          ebx: lv.count,
          ecx: this.bits("CPUID_1F_ECX", { LEVEL_NUMBER: i, LEVEL_TYPE: lv.type }),
          edx: id,
        }, lp);
      });
    });
  }

  /** CPUID(leaf, subleaf) on LP `lp`. Leaves without data read as zeros. */
  read(lp: number, leaf: number, subleaf: number): CpuidValues {
    for (const table of [this.perLp[lp], this.platform]) {
      const v = table?.get(key(leaf, subleaf)) ?? table?.get(key(leaf, ANY));
      if (v) return { ...v };
    }
    return { ...ZERO };
  }

  /**
   * Sets a leaf (`subleaf` "*" for a leaf without sub-leaves) on one LP, or on every LP
   * when `lp` is undefined (which also drops per-LP values of that leaf).
   */
  set(leaf: number, subleaf: number | "*", values: CpuidValues, lp?: number): void {
    const k = key(leaf, subleaf);
    const v = {
      eax: values.eax >>> 0,
      ebx: values.ebx >>> 0,
      ecx: values.ecx >>> 0,
      edx: values.edx >>> 0,
    };
    if (lp === undefined) {
      this.platform.set(k, v);
      for (const t of this.perLp) t.delete(k);
    } else {
      const t = this.perLp[lp];
      if (!t) throw new RangeError(`no logical processor ${lp}`);
      t.set(k, v);
    }
  }

  /** Changes some registers of a leaf, keeping the others. */
  patch(
    leaf: number,
    subleaf: number | "*",
    values: Partial<CpuidValues>,
    lp?: number,
  ): void {
    const cur = this.read(lp ?? 0, leaf, subleaf === ANY ? 0 : subleaf);
    if (lp === undefined) {
      for (let i = 0; i < this.perLp.length; i++) {
        const own = this.perLp[i].get(key(leaf, subleaf));
        if (own) this.perLp[i].set(key(leaf, subleaf), { ...own, ...values });
      }
      this.platform.set(key(leaf, subleaf), { ...cur, ...values });
      return;
    }
    this.set(leaf, subleaf, { ...cur, ...values }, lp);
  }
}
