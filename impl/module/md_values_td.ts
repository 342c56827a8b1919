// TD-scope metadata fields backed by TdState, for TDH.MNG.RD/WR and TDG.VM.RD/WR.
// Fields not listed read and write td.fields. The TD owner adds entries by field name.
import { decodeBits } from "../spec/bits.ts";
import type { MdContext, MdElement, MdHandlers } from "./metadata.ts";
import type { TdState } from "./state.ts";
import { wordOf } from "./md_values_bytes.ts";

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

export const TD_MD_VALUES: MdHandlers = {
  TD_CTLS: tdCtls,
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
