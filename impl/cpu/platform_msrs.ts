// The MSR values firmware leaves on a platform that is ready for TDX: the values the
// TDX module's platform checks (TDH.SYS.INIT, TDH.SYS.LP.INIT) accept. Indices and bit
// layouts come from the spec (enum MSR_INDEX, bitfield items named after the MSR).
import type { MsrFile } from "./msrs.ts";
import type { ResolvedPlatform, SmrrConfig } from "./platform_config.ts";

/** Base/mask pair of a range register: the mask keeps the address bits that must match. */
function rangeMask(size: bigint, maxBits: number): bigint {
  const all = (1n << BigInt(maxBits)) - 1n;
  return all & ~(size - 1n);
}

function smrrValues(
  smrr: SmrrConfig,
): { base: Record<string, bigint>; mask: Record<string, bigint> } {
  const mask32 = rangeMask(smrr.range.size, 32);
  return {
    base: { MEMTYPE: 6n, BASE: (smrr.range.base >> 12n) & 0xF_FFFFn },
    mask: {
      LOCK: smrr.locked ? 1n : 0n,
      VALID: smrr.valid ? 1n : 0n,
      MASK: (mask32 >> 12n) & 0xF_FFFFn,
    },
  };
}

export function setPlatformMsrs(msrs: MsrFile, p: ResolvedPlatform): void {
  msrs.writeFields("IA32_MISC_ENABLE", { FAST_STRINGS: 1n });
  msrs.writeFields("IA32_MTRRCAP", {
    VCNT: 10n,
    FIX: 1n,
    WC: 1n,
    SMRR: 1n,
    SMRR2: p.smrr2 ? 1n : 0n,
    SMRR_LOCK: 1n,
    SEAMRR: 1n,
  });
  const s1 = smrrValues(p.smrr);
  msrs.writeFields("IA32_SMRR_PHYSBASE", s1.base);
  msrs.writeFields("IA32_SMRR_PHYSMASK", s1.mask);
  if (p.smrr2) {
    const s2 = smrrValues(p.smrr2);
    msrs.writeFields("IA32_SMRR2_PHYSBASE", s2.base, "IA32_SMRR_PHYSBASE");
    msrs.writeFields("IA32_SMRR2_PHYSMASK", s2.mask, "IA32_SMRR_PHYSMASK");
  }
  msrs.writeFields("IA32_ARCH_CAPABILITIES", {
    RDCL_NO: 1n,
    IBRS_ALL: 1n,
    SKIP_L1DFL_VMENTRY: 1n,
    SSB_NO: 1n,
    MDS_NO: 1n,
    IF_PSCHANGE_MC_NO: 1n,
    TAA_NO: 1n,
    MISC_PACKAGE_CTLS: 1n,
    ENERGY_FILTERING_CTL: 1n,
    DOITM: 1n,
    SBDR_SSDP_NO: 1n,
    FBSDP_NO: 1n,
    PSDP_NO: 1n,
    XAPIC_DISABLE_STATUS: 1n,
  });
  msrs.writeFields("IA32_XAPIC_DISABLE_STATUS", { LEGACY_XAPIC_DISABLED: 1n });
  msrs.writeFields("IA32_MISC_PACKAGE_CTLS", { ENERGY_FILTERING_ENABLE: 1n });
  msrs.writeFields("IA32_PERF_CAPABILITIES", { FULL_WRITE: 1n, PEBS_RECORD_FORMAT: 4n });
  msrs.writeNamed("IA32_CORE_CAPABILITIES", 0n);
  // Every LP's local APIC enabled in x2APIC mode at the architectural default base.
  msrs.writeFields("IA32_APIC_BASE", { EN: 1n, EXTD: 1n, APIC_BASE: 0xFEE00n });
  msrs.writeNamed("IA32_TSC_ADJUST", 0n);
  msrs.writeNamed("IA32_WBINVDP", BigInt(p.cacheSubBlocks));
  msrs.writeNamed("IA32_WBNOINVDP", BigInt(p.cacheSubBlocks));
  msrs.writeNamed("IA32_INTR_PENDING", 0n);
  msrs.writeFields("IA32_TME_CAPABILITY", {
    AES_XTS_128: 1n,
    AES_XTS_128_WITH_INTEGRITY: 1n,
    AES_XTS_256: 1n,
    MK_TME_MAX_KEYID_BITS: BigInt(p.keyIdBits),
    MK_TME_MAX_KEYS: (1n << BigInt(p.keyIdBits)) - 1n,
  });
  msrs.writeNamed("IA32_SEAMRR_PHYS_BASE", p.seamrr.base);
  // Bit 11 of the mask MSR enables the range (as for MTRR mask registers).
  msrs.writeNamed("IA32_SEAMRR_PHYS_MASK", rangeMask(p.seamrr.size, p.maxPa) | (1n << 11n));
}
