// TD-scope metadata fields backed by TdState, for TDH.MNG.RD/WR and TDG.VM.RD/WR.
// Fields not listed read and write td.fields. The TD owner adds entries by field name.
import type { Spec } from "../spec/mod.ts";
import { decodeBits, encodeBits } from "../spec/bits.ts";
import { parseHex } from "../spec/hex.ts";
import { cpuidKey } from "./td_params.ts";
import type { MdContext, MdElement, MdHandlers } from "./metadata.ts";
import type { TdState } from "./state.ts";
import { wordOf } from "./md_values_bytes.ts";
import { SERVTD_MD_VALUES } from "./servtd_md_values.ts";
import { hpLockTimeoutField } from "./host_priority.ts";

function td(c: MdContext): TdState {
  if (!c.td) throw new Error("TD-scope metadata without a TD");
  return c.td;
}

/** A field whose value names a state of the enum the metadata item points at. */
function enumState(pick: (t: TdState) => string) {
  return {
    read: (c: MdContext, el: MdElement) => c.spec.enumValue(el.field.item.enum!, pick(td(c))),
  };
}

function bytes(pick: (t: TdState) => Uint8Array | undefined) {
  return { read: (c: MdContext, el: MdElement) => wordOf(pick(td(c)), el.elementIndex) };
}

function configFlags(t: TdState): bigint {
  return t.configFlags ?? BigInt((t.params?.config_flags as bigint | number | undefined) ?? 0);
}

/**
 * TD_CTLS: the guest may flip PENDING_VE_DISABLE only when the TD was created with
 * CONFIG_FLAGS.FLEXIBLE_PENDING_VE.
 */
const tdCtls = {
  write: (c: MdContext, el: MdElement, value: bigint, old: bigint, access: { who: string }) => {
    const t = td(c);
    if (access.who === "guest") {
      const flexible = decodeBits(c.spec.bitfield("CONFIG_FLAGS").fields, configFlags(t)).fields
        .FLEXIBLE_PENDING_VE === 1n;
      const layout = c.spec.bitfield("TD_CTLS").fields;
      const changed = decodeBits(layout, value ^ old).fields.PENDING_VE_DISABLE;
      if (!flexible && changed !== 0n) return { status: "TDX_METADATA_FIELD_VALUE_NOT_VALID" };
    }
    t.fields.set(el.id, value);
    return undefined;
  },
};

/** The module's virtualized CPUID leaves in table order, as (leaf, sub-leaf) values. */
function cpuidLookup(spec: Spec): bigint[] {
  return spec.enum("TD_CPUID_LOOKUP").values.map((v) => parseHex(v.value));
}

const SUBLEAF_NA = 0xFFFF_FFFFn;
const leafOf = (v: bigint) => Number(v & 0xFFFF_FFFFn);
const subleafOf = (v: bigint) => Number(v >> 32n);

/**
 * CPUID_VALUES: the field code names a leaf and sub-leaf (MD_CPUID_FIELD_CODE), not an
 * index; field i is entry i of TD_CPUID_LOOKUP, element 0 EBX:EAX and element 1 EDX:ECX.
 */
const cpuidValues = {
  locate(spec: Spec, code: bigint): number | undefined {
    const f = decodeBits(spec.bitfield("MD_CPUID_FIELD_CODE").fields, code).fields;
    if (f.RESERVED !== 0n) return undefined;
    const leaf = f.LEAF | (f.LEAF_BIT31 << 31n);
    const subleaf = f.SUBLEAF_NA === 1n ? SUBLEAF_NA : f.SUBLEAF;
    const i = cpuidLookup(spec).indexOf((subleaf << 32n) | leaf);
    return i < 0 ? undefined : 2 * i + Number(f.ELEMENT);
  },
  codeOf(spec: Spec, flat: number): bigint {
    const v = cpuidLookup(spec)[flat >> 1] ?? 0n;
    const leaf = v & 0xFFFF_FFFFn;
    const na = v >> 32n === SUBLEAF_NA;
    const layout = spec.bitfield("MD_CPUID_FIELD_CODE").fields;
    const width = (n: string) => {
      const b = layout.find((x) => x.name === n)!.bits;
      return (1n << BigInt(b[1] - b[0] + 1)) - 1n;
    };
    return encodeBits(layout, {
      ELEMENT: BigInt(flat & 1),
      SUBLEAF: na ? width("SUBLEAF") : (v >> 32n) & width("SUBLEAF"),
      SUBLEAF_NA: na ? 1n : 0n,
      LEAF: leaf & width("LEAF"),
      LEAF_BIT31: leaf >> 31n,
    });
  },
  exists: (c: MdContext, el: MdElement) => el.fieldIndex < cpuidLookup(c.spec).length,
  readable(c: MdContext, el: MdElement) {
    const v = cpuidLookup(c.spec)[el.fieldIndex];
    const faulting = c.spec.enum("TD_CPUID_FAULTING").values.some((x) => parseHex(x.value) === v);
    if (faulting || !td(c).cpuid?.has(cpuidKey(leafOf(v), subleafOf(v)))) {
      return { status: "TDX_METADATA_FIELD_NOT_READABLE" };
    }
    return undefined;
  },
  read(c: MdContext, el: MdElement) {
    const v = cpuidLookup(c.spec)[el.fieldIndex];
    const [eax, ebx, ecx, edx] = td(c).cpuid?.get(cpuidKey(leafOf(v), subleafOf(v))) ??
      [0, 0, 0, 0];
    const pair = (lo: number, hi: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    return el.elementIndex === 0 ? pair(eax, ebx) : pair(ecx, edx);
  },
};

export const TD_MD_VALUES: MdHandlers = {
  ...SERVTD_MD_VALUES,
  CPUID_VALUES: cpuidValues,
  TD_CTLS: tdCtls,
  HP_LOCK_TIMEOUT: hpLockTimeoutField,
  ATTRIBUTES: { read: (c) => td(c).attributes },
  XFAM: { read: (c) => td(c).xfam },
  MAX_VCPUS: { read: (c) => BigInt(td(c).maxVcpus) },
  NUM_VCPUS: { read: (c) => BigInt(td(c).numVcpus ?? td(c).vcpus.length) },
  HKID: { read: (c) => BigInt(td(c).hkid) },
  LIFECYCLE_STATE: enumState((t) => t.lifecycle),
  OP_STATE: enumState((t) => t.opState),
  NUM_TDCX: { read: (c) => BigInt(td(c).tdcx.length) },
  TDCX_PA: { read: (c, el) => td(c).tdcx[el.fieldIndex] ?? 0n },
  TD_EPOCH: { read: (c) => td(c).epoch },
  NUM_L2_VMS: { read: (c) => BigInt(td(c).numL2Vms ?? 0) },
  CONFIG_FLAGS: { read: (c) => configFlags(td(c)) },
  TSC_FREQUENCY: { read: (c) => BigInt(td(c).tscFrequency ?? 0) },
  EPTP: { read: (c) => td(c).eptp ?? 0n },
  TD_UUID: bytes((t) => t.uuid),
  SERVTD_HASH: bytes((t) => t.servtdHash),
  FATAL: { read: (c) => (td(c).fatal ? 1n : 0n) },
  SEAMDB_INDEX: { read: (c) => td(c).seamdb?.index ?? 0n },
  CHLDCNT: { read: (c) => BigInt(td(c).childCount ?? 0) },
  GPAW: {
    read: (c) => {
      const flags = configFlags(td(c));
      const bit = c.spec.bitfield("CONFIG_FLAGS").fields.find((f) => f.name === "GPAW")!.bits[0];
      return (flags >> BigInt(bit)) & 1n;
    },
  },
  MRTD: bytes((t) => t.mrtd),
  MRCONFIGID: bytes((t) => t.mrconfigid),
  MROWNER: bytes((t) => t.mrowner),
  MROWNERCONFIG: bytes((t) => t.mrownerconfig),
  RTMR: { read: (c, el) => wordOf(td(c).rtmr[el.fieldIndex], el.elementIndex) },
};
