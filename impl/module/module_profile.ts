// The identity of the modelled TDX module build: its version, the TDX_FEATURES0 bits it
// offers, the handoff values its SIGSTRUCT carried (as the SEAM loader copied them into
// SEAM memory), and the sizes of its 2026 extensions. A test builds a different module by
// changing the profile before TDH.SYS.INIT (e.g. a module without extensions, or a
// SIGSTRUCT this build refuses).

export interface ModuleProfile {
  version: {
    major: number;
    minor: number;
    update: number;
    internal: number;
    buildNum: number;
    /** YYYYMMDD. */
    buildDate: number;
    vendorId: number;
  };
  /** Handoff values from the module's SIGSTRUCT, checked by TDH.SYS.INIT against the build. */
  sigstruct: {
    moduleHv: number;
    minUpdateHv: number;
    noDowngrade: boolean;
    numHandoffPages: number;
  };
  /** MAX_VCPUS_PER_TD: the most vCPUs a TD may have. */
  maxVcpusPerTd: number;
  /**
   * CPUID_CONFIG_LEAVES/VALUES elements beyond the configurable list: true answers a
   * filler value as tdx_1.5 does, false answers TDX_METADATA_FIELD_SKIP.
   */
  cpuidConfigFiller: boolean;
  /**
   * Bytes of the 4 KiB list buffer TDH.SYS.RDALL and TDG.SYS.RDALL fill per call. The
   * model's global metadata fits in 4 KiB (newer builds with longer CPUID lists do not); a
   * smaller value makes the continuation path (TDX_METADATA_LIST_OVERFLOW) reachable.
   */
  mdListBytes: number;
  /** TDX_FEATURES0 bits this build supports, by bit-field name. */
  features0: string[];
  /** The 2026 extensions (only meaningful when features0 has EXT). */
  extensions: {
    /** Pages TDH.EXT.MEM.ADD must provide once an add-on feature needs the extensions. */
    memoryPoolPages: number;
    /** Pool pages TDH.EXT.INIT initialises per call before it checks for interrupts. */
    initPagesPerCall: number;
    /** Largest quote, in bytes (MAX_QUOTE_SIZE, valid after TDH.QUOTE.INIT). */
    maxQuoteSize: number;
    /** Steps TDH.QUOTE.INIT takes (key derivation), each a point where it may be interrupted. */
    quoteInitSteps: number;
  };
}

export function defaultModuleProfile(): ModuleProfile {
  return {
    version: {
      major: 1,
      minor: 5,
      update: 0,
      internal: 0,
      buildNum: 0,
      buildDate: 20240101,
      vendorId: 0x8086,
    },
    sigstruct: { moduleHv: 0, minUpdateHv: 0, noDowngrade: false, numHandoffPages: 1 },
    maxVcpusPerTd: 0xFFFF,
    cpuidConfigFiller: true,
    mdListBytes: 4096,
    features0: [
      "TD_MIGRATION",
      "TD_PRESERVING",
      "SERVICE_TD",
      "TDG_VP_RDWR",
      "RELAXED_MEM_MNG_CONCURRENCY",
      "CPUID_VIRT_GUEST_CTRL",
      "TD_PARTITIONING",
      "LOCAL_ATTESTATION",
      "TD_ENTRY_ENHANCEMENTS",
      "HOST_PRIORITY_LOCKS",
      "CONFIG_IA32_ARCH_CAPABILITIES",
      "PENDING_EPT_VIOLATION_V2",
      "FMS_CONFIG",
      "NO_RBP_MOD",
      "L2_TLB_INVD_OPT",
      "TOPOLOGY_ENUM",
      "EXT",
      "QUOTE",
    ],
    extensions: { memoryPoolPages: 16, initPagesPerCall: 4, maxQuoteSize: 8192, quoteInitSteps: 2 },
  };
}
