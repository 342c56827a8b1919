// TD-scope metadata fields of service-TD binding and migration keys with semantics:
// SERVTD_NUM and SERVTD_BINDINGS_TABLE read the binding table; a write of MIG_DEC_KEY
// (by a Migration TD, TDG.SERVTD.WR) also sets MIG_DEC_KEY_SET; MIG_VERSION accepts only
// a version inside both the export and the import ranges the module supports. The global
// fields MAX_SERV_TDS and SERVTD_ATTR_FIXED0/1 report the build constants of SERVTD_LIMITS.
import { StructCodec } from "../spec/codec.ts";
// metadata.ts imports this file (through md_values_*): its functions are used only at call time.
import {
  catalog,
  elementValue,
  type MdContext,
  type MdElement,
  type MdHandlers,
} from "./metadata.ts";
import { servtdOf } from "./servtd_state.ts";
import type { TdState } from "./state.ts";

function td(c: MdContext): TdState {
  if (!c.td) throw new Error("TD-scope metadata without a TD");
  return c.td;
}

/** Element `el` of the binding table: 64-bit word i of the slots' SERVTD_BINDING records. */
function bindingsWord(c: MdContext, el: MdElement): bigint {
  const codec = new StructCodec(c.spec);
  const size = c.spec.struct("SERVTD_BINDING").size as number;
  const slot = Math.floor((8 * el.flat) / size);
  const b = servtdOf(c.spec, td(c)).bindings[slot];
  if (!b) return 0n;
  const bytes = codec.encode("SERVTD_BINDING", {
    state: c.spec.enumValue("SERVTD_BINDING_STATE", b.state),
    type: b.type,
    attributes: b.attributes,
    uuid: b.uuid,
    info_hash: b.infoHash,
  });
  const at = (8 * el.flat) % size;
  return new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(at, true);
}

function globalValue(c: MdContext, name: string): bigint {
  const cat = catalog(c.spec);
  const v = elementValue(c, cat.element(cat.field("global", name), 0));
  return typeof v === "bigint" ? v : 0n;
}

export const SERVTD_MD_VALUES: MdHandlers = {
  SERVTD_NUM: { read: (c) => BigInt(servtdOf(c.spec, td(c)).num) },
  SERVTD_BINDINGS_TABLE: { read: bindingsWord },
  MIG_DEC_KEY: {
    write: (c, el, value) => {
      // The flag is what export/import look at before they use the key.
      servtdOf(c.spec, td(c)).migDecKeySet = true;
      td(c).fields.set(el.id, value);
      return undefined;
    },
  },
  MIG_VERSION: {
    write: (c, el, value) => {
      const inRange = (lo: string, hi: string) =>
        value >= globalValue(c, lo) && value <= globalValue(c, hi);
      if (
        !inRange("MIN_EXPORT_VERSION", "MAX_EXPORT_VERSION") ||
        !inRange("MIN_IMPORT_VERSION", "MAX_IMPORT_VERSION")
      ) {
        return { status: "TDX_METADATA_FIELD_VALUE_NOT_VALID" };
      }
      td(c).fields.set(el.id, value);
      return undefined;
    },
  },
};

const limit = (name: string) => ({
  read: (c: MdContext) => c.spec.enumValue("SERVTD_LIMITS", name),
});

export const SERVTD_GLOBAL_MD_VALUES: MdHandlers = {
  MAX_SERV_TDS: limit("MAX_SERVTDS"),
  SERVTD_ATTR_FIXED0: limit("SERVTD_ATTRIBUTES_FIXED_0"),
  SERVTD_ATTR_FIXED1: limit("SERVTD_ATTRIBUTES_FIXED_1"),
};
