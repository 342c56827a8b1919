// The destination TD takes its immutable configuration from the imported metadata, then
// the module's cross-checks and initialisation of the state TDH.MNG.INIT would otherwise
// have set (check_and_init_imported_td_state_immutable): a migratable TD has no L2 VMs,
// NUM_VCPUS is 1..MAX_VCPUS; the epoch restarts at 1 and GPAW comes from the GPAW field.
import type { LeafContext } from "../leaf_context.ts";
import type { TdState } from "../state.ts";
import { decodeBits, encodeBits } from "../../spec/bits.ts";
import { setTdField } from "../md_fields.ts";
import { catalog } from "../metadata.ts";
import { uuidWord } from "../servtd.ts";
import { tdxLimit } from "../td_limits.ts";
import { cpuidKey } from "../td_params.ts";
import { parseHex } from "../../spec/hex.ts";
import type { ImportedValues } from "./md_lists.ts";

function word(got: ImportedValues, name: string, i = 0): bigint {
  return got.get(name)?.get(i) ?? 0n;
}

function bytesOf(got: ImportedValues, name: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const v = new DataView(out.buffer);
  for (let i = 0; i < length / 8; i++) v.setBigUint64(8 * i, word(got, name, i), true);
  return out;
}

/** False when the imported state fails the module's cross-checks (TDX_OPERAND_INVALID(RDX)). */
export function applyImmutableState(ctx: LeafContext, td: TdState, got: ImportedValues): boolean {
  const spec = ctx.spec;
  const attributes = word(got, "ATTRIBUTES");
  const numL2Vms = Number(word(got, "NUM_L2_VMS"));
  const numVcpus = Number(word(got, "NUM_VCPUS"));
  const maxVcpus = Number(word(got, "MAX_VCPUS"));
  const attr = decodeBits(spec.bitfield("TD_ATTRIBUTES").fields, attributes).fields;
  if (attr.MIGRATABLE === 1n && numL2Vms > 0) return false;
  if (numVcpus === 0 || numVcpus > maxVcpus) return false;

  td.attributes = attributes;
  td.xfam = word(got, "XFAM");
  td.maxVcpus = maxVcpus;
  td.numL2Vms = numL2Vms;
  td.eptp = word(got, "EPTP");
  td.septRoot = td.tdcx[Number(tdxLimit(spec, "SEPT_ROOT_PAGE_INDEX"))];
  td.tscFrequency = Number(word(got, "TSC_FREQUENCY"));
  const flagsLayout = spec.bitfield("CONFIG_FLAGS").fields;
  const flags = decodeBits(flagsLayout, word(got, "CONFIG_FLAGS")).fields;
  td.configFlags = encodeBits(flagsLayout, { ...flags, GPAW: word(got, "GPAW") !== 0n ? 1n : 0n });
  td.mrtd = bytesOf(got, "MRTD", 48);
  td.finalized = true;
  td.mrconfigid = bytesOf(got, "MRCONFIGID", 48);
  td.mrowner = bytesOf(got, "MROWNER", 48);
  td.mrownerconfig = bytesOf(got, "MROWNERCONFIG", 48);
  // Writing TD_UUID keeps the old one as PRE_IMPORT_UUID: service TDs bound before the
  // import still name the TD by it (TDG.SERVTD.RD/WR then answer TDX_TARGET_UUID_UPDATED).
  const cat = catalog(spec);
  const pre = cat.field("td", "PRE_IMPORT_UUID");
  for (let i = 0; i < 4; i++) td.fields.set(cat.elementId(pre, i), uuidWord(td.uuid, i));
  td.uuid = bytesOf(got, "TD_UUID", 32);
  td.servtdHash = bytesOf(got, "SERVTD_HASH", 48);
  td.ia32ArchCapabilities = word(got, "VIRTUAL_IA32_ARCH_CAPABILITIES");
  td.cpuid = importedCpuid(ctx, got);
  setTdField(ctx, td, "EXPORT_COUNT", word(got, "EXPORT_COUNT"));
  setTdField(ctx, td, "SERVTD_NUM", word(got, "SERVTD_NUM"));
  // The source's vCPU count: TDH.IMPORT.STATE.VP brings each of them over.
  td.numVcpus = numVcpus;
  td.vcpusAssociated.clear();
  td.epoch = 1n;
  td.epochRefcount = [0, 0];
  return true;
}

/** CPUID_VALUES back to the virtual CPUID table: field i is entry i of TD_CPUID_LOOKUP. */
function importedCpuid(ctx: LeafContext, got: ImportedValues): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const values = got.get("CPUID_VALUES");
  if (!values) return out;
  const lookup = ctx.spec.enum("TD_CPUID_LOOKUP").values.map((v) => parseHex(v.value));
  lookup.forEach((v, i) => {
    const lo = values.get(2 * i) ?? 0n;
    const hi = values.get(2 * i + 1) ?? 0n;
    // A leaf the source did not virtualise reads as zeros and stays absent.
    if (lo === 0n && hi === 0n) return;
    const leaf = Number(v & 0xFFFF_FFFFn);
    const subleaf = Number(v >> 32n);
    const regs = [lo & 0xFFFF_FFFFn, lo >> 32n, hi & 0xFFFF_FFFFn, hi >> 32n].map(Number);
    out.set(cpuidKey(leaf, subleaf), regs);
  });
  return out;
}
