// Global (platform) metadata fields with semantics, for TDH.SYS.RD/RDALL and
// TDG.SYS.RD/RDALL. Fields not listed here read from platform.mdFields (zero until the
// platform code stores a value). Values come from the module profile (versions,
// features, handoff), the platform TDH.SYS.INIT recorded (packages, CMRs), the module's
// build constants in the spec (TDMR limits, control-structure sizes, TD configurability)
// and the state of the 2026 extensions.
import { decodeBits, encodeBits } from "../spec/bits.ts";
import type { MdContext, MdElement, MdFieldHandler, MdHandlers } from "./metadata.ts";
import { platformLimit } from "./platform_limits.ts";
import { tdxLimit } from "./td_limits.ts";
import { tdConfigurability } from "./td_configurability.ts";
import { cpuidConfigurable } from "./td_params.ts";
import { SERVTD_GLOBAL_MD_VALUES } from "./servtd_md_values.ts";
import {
  extensionsSupported,
  extRequired,
  features0,
  hasFeature,
  poolPagesMissing,
} from "./extensions.ts";

const PAGE = 4096n;

function value(read: (c: MdContext, el: MdElement) => bigint | number): MdFieldHandler {
  return { read: (c, el) => BigInt(read(c, el)) };
}

function version(pick: (c: MdContext) => number): MdFieldHandler {
  return value((c) => pick(c));
}

function conf(c: MdContext) {
  return tdConfigurability(c.spec, c.cpu, c.state, 0);
}

function cmrs(c: MdContext) {
  return c.state.platform.sampled?.cmrs ?? c.cpu.platform.cmrs;
}

/** CPUID_CONFIG_* beyond the module's list: tdx_1.5 answers a filler, the model can skip. */
function cpuidConfigEntry(c: MdContext, el: MdElement) {
  return cpuidConfigurable(c.spec)[el.fieldIndex];
}

const cpuidConfigReadable: MdFieldHandler["readable"] = (c, el) =>
  cpuidConfigEntry(c, el) === undefined && !c.state.profile.cpuidConfigFiller
    ? { status: "TDX_METADATA_FIELD_SKIP" }
    : undefined;

/** Present only in builds with the extensions (and, for quoting, the Quoting extension). */
const withExtensions = (c: MdContext) => extensionsSupported(c.state);
const withQuote = (c: MdContext) => extensionsSupported(c.state) && hasFeature(c.state, "QUOTE");

export const GLOBAL_MD_VALUES: MdHandlers = {
  ...SERVTD_GLOBAL_MD_VALUES,
  // Platform Info
  NUM_PKGS: value((c) => c.state.platform.sampled?.numPkgs ?? c.cpu.platform.packages),
  PKG_FMS: value((c, el) =>
    (c.state.platform.sampled?.pkgFms ?? c.cpu.platform.packageFms)[el.fieldIndex] ?? 0
  ),
  // TDX Module Version
  VENDOR_ID: version((c) => c.state.profile.version.vendorId),
  BUILD_DATE: version((c) => c.state.profile.version.buildDate),
  BUILD_NUM: version((c) => c.state.profile.version.buildNum),
  MINOR_VERSION: version((c) => c.state.profile.version.minor),
  MAJOR_VERSION: version((c) => c.state.profile.version.major),
  UPDATE_VERSION: version((c) => c.state.profile.version.update),
  INTERNAL_VERSION: version((c) => c.state.profile.version.internal),
  // TDX Module Info
  SYS_ATTRIBUTES: value((c) => c.state.platform.sysAttributes),
  NUM_TDX_FEATURES: value(() => 1),
  TDX_FEATURES0: value((c) => {
    const f = features0(c.spec, c.state.profile);
    // LOCAL_ATTESTATION needs SEAMVERIFYREPORT from the CPU.
    const caps = c.state.platform.sampled?.seamCapabilities ?? c.cpu.platform.seamCapabilities;
    const verify =
      decodeBits(c.spec.bitfield("SEAMOPS_CAPABILITIES").fields, caps).fields.SEAMVERIFYREPORT ===
        1n;
    const la = encodeBits(c.spec.bitfield("TDX_FEATURES0").fields, { LOCAL_ATTESTATION: 1n });
    return verify ? f : f & ~la;
  }),
  // CMR Info
  NUM_CMRS: value((c) => platformLimit(c.spec, "MAX_CMRS")),
  CMR_BASE: value((c, el) => cmrs(c)[el.fieldIndex]?.base ?? 0n),
  CMR_SIZE: value((c, el) => cmrs(c)[el.fieldIndex]?.size ?? 0n),
  // TDMR Info
  MAX_TDMRS: value((c) => platformLimit(c.spec, "MAX_TDMRS")),
  MAX_RESERVED_PER_TDMR: value((c) => platformLimit(c.spec, "MAX_RESERVED_PER_TDMR")),
  PAMT_4K_ENTRY_SIZE: value((c) => platformLimit(c.spec, "PAMT_ENTRY_SIZE")),
  PAMT_2M_ENTRY_SIZE: value((c) => platformLimit(c.spec, "PAMT_ENTRY_SIZE")),
  PAMT_1G_ENTRY_SIZE: value((c) => platformLimit(c.spec, "PAMT_ENTRY_SIZE")),
  // TD Control Structures
  TDR_BASE_SIZE: value(() => PAGE),
  TDCS_BASE_SIZE: value((c) => tdxLimit(c.spec, "MIN_NUM_TDCS_PAGES") * PAGE),
  TDVPS_BASE_SIZE: value((c) => tdxLimit(c.spec, "MIN_TDVPS_PAGES") * PAGE),
  TDCS_SIZE_PER_L2_VM: value((c) => tdxLimit(c.spec, "TDCS_PAGES_PER_L2_VM") * PAGE),
  TDVPS_SIZE_PER_L2_VM: value((c) => tdxLimit(c.spec, "TDVPS_PAGES_PER_L2_VM") * PAGE),
  // TD Configurability
  ATTRIBUTES_FIXED0: value((c) => conf(c).attributesFixed0),
  ATTRIBUTES_FIXED1: value((c) => conf(c).attributesFixed1),
  XFAM_FIXED0: value((c) => conf(c).xfamFixed0),
  XFAM_FIXED1: value((c) => conf(c).xfamFixed1),
  CONFIG_FLAGS_FIXED0: value((c) => conf(c).configFlagsFixed0),
  CONFIG_FLAGS_FIXED1: value((c) => conf(c).configFlagsFixed1),
  IA32_ARCH_CAPABILITIES_CONFIG_MASK: value((c) =>
    tdxLimit(c.spec, "IA32_ARCH_CAPABILITIES_CONFIG_MASK")
  ),
  MAX_VCPUS_PER_TD: value((c) => c.state.profile.maxVcpusPerTd),
  NUM_CPUID_CONFIG: value((c) => cpuidConfigurable(c.spec).length),
  CPUID_CONFIG_LEAVES: {
    readable: cpuidConfigReadable,
    read: (c, el) => cpuidConfigEntry(c, el)?.raw ?? 0xFFFF_FFFF_FFFF_FFFFn,
  },
  CPUID_CONFIG_VALUES: {
    readable: cpuidConfigReadable,
    read: (c, el) => {
      const e = cpuidConfigEntry(c, el);
      if (!e) return 0n;
      const pair = (lo: number, hi: number) => BigInt(lo >>> 0) | (BigInt(hi >>> 0) << 32n);
      return el.elementIndex === 0
        ? pair(e.direct.eax, e.direct.ebx)
        : pair(e.direct.ecx, e.direct.edx);
    },
  },
  // TDX Module Handoff
  MODULE_HV: value((c) => platformLimit(c.spec, "MODULE_HV")),
  MIN_UPDATE_HV: value((c) => platformLimit(c.spec, "MIN_UPDATE_HV")),
  NO_DOWNGRADE: value((c) => platformLimit(c.spec, "NO_DOWNGRADE")),
  NUM_HANDOFF_PAGES: value((c) => c.state.profile.sigstruct.numHandoffPages),
  HANDOFF_DATA_VALID: value((c) => (c.cpu.seamHandoff?.valid ? 1 : 0)),
  HANDOFF_DATA_HV: value((c) => c.cpu.seamHandoff?.hv ?? 0),
  HANDOFF_DATA_SIZE: value((c) => c.cpu.seamHandoff?.size ?? 0),
  // TDX Module Extensions (2026)
  EXT_REQUIRED: { exists: withExtensions, read: (c) => extRequired(c.state) ? 1n : 0n },
  MEMORY_POOL_REQUIRED_PAGES: {
    exists: withExtensions,
    read: (c) => BigInt(poolPagesMissing(c.state)),
  },
  // Quoting extension: valid once TDH.QUOTE.INIT has run.
  MAX_QUOTE_SIZE: {
    exists: withQuote,
    readable: (c) =>
      c.state.platform.extensions.quoteInitialized
        ? undefined
        : { status: "TDX_METADATA_FIELD_NOT_READABLE" },
    read: (c) => BigInt(c.state.profile.extensions.maxQuoteSize),
  },
};
