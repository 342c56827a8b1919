// The metadata lists of a TD's immutable state: 4 KiB pages in the MD_LIST format (an
// MD_LIST_HEADER, then sequences, each a field id header and its elements as u64).
// Which fields travel is the module's per-field migration attribute (tdx_1.5
// global_sys_fields_lookup.c and tdr_tdcs_fields_lookup.c): a field is exported with the
// immutable state when it is "must be migrated" or imported as an immutable-phase
// field, and imported when its import kind is written then. The suite's metadata spec
// does not carry that attribute, so the field names are listed here; a listed field the
// spec lacks is not migrated (a known gap: the virtual VMX capability MSRs).
// Each field travels as one sequence of its elements (the module may pack consecutive
// fields of one shape into a sequence; the list is the module's private format).
import type { Spec } from "../../spec/mod.ts";
import { decodeBits, encodeBits } from "../../spec/bits.ts";
import { StructCodec } from "../../spec/codec.ts";
import {
  catalog,
  contextCodeOf,
  elementValue,
  type MdContext,
  type MdField,
  type MdScope,
} from "../metadata.ts";

const PAGE = 4096;
const HEADER = 8;

/** Global fields exported with the immutable state (import: checked, optional). */
export const SYS_IMMUTABLE_FIELDS = [
  "PKG_FMS",
  "VENDOR_ID",
  "BUILD_DATE",
  "BUILD_NUM",
  "MINOR_VERSION",
  "MAJOR_VERSION",
  "UPDATE_VERSION",
  "INTERNAL_VERSION",
  "SYS_ATTRIBUTES",
  "NUM_TDX_FEATURES",
  "TDX_FEATURES0",
];

/** TD fields exported with the immutable state, by import kind. */
export const TD_IMMUTABLE_FIELDS: Record<string, "required" | "optional" | "later"> = {
  TD_UUID: "required",
  NUM_VCPUS: "required",
  NUM_L2_VMS: "required",
  ATTRIBUTES: "required",
  XFAM: "required",
  MAX_VCPUS: "required",
  GPAW: "required",
  EPTP: "required",
  // Imported later, with the mutable TD state.
  TSC_OFFSET: "later",
  TSC_MULTIPLIER: "later",
  TSC_FREQUENCY: "required",
  NUM_CPUID_VALUES: "required",
  XBUFF_SIZE: "optional",
  CONFIG_FLAGS: "optional",
  MRTD: "required",
  MRCONFIGID: "required",
  MROWNER: "required",
  MROWNERCONFIG: "required",
  CPUID_VALUES: "optional",
  VIRTUAL_IA32_ARCH_CAPABILITIES: "required",
  EXPORT_COUNT: "required",
  SERVTD_HASH: "required",
  SERVTD_NUM: "required",
};

/**
 * TD fields exported with the mutable TD state (TDH.EXPORT.STATE.TD), by import kind; the
 * TSC offset and multiplier are imported then too, from the immutable state's values.
 */
export const TD_MUTABLE_FIELDS: Record<string, "required" | "optional" | "later"> = {
  VIRTUAL_TSC: "required",
  NOTIFY_ENABLES: "required",
  HP_LOCK_TIMEOUT: "required",
  VM_CTLS: "required",
  TD_CTLS: "optional",
  RTMR: "required",
  IMPORT_COUNT: "required",
  SERVTD_BINDINGS_TABLE: "optional",
};

/**
 * vCPU fields exported with a vCPU's state (TDH.EXPORT.STATE.VP): the TDVPS and TD VMCS
 * fields the module exports as mutable that the suite's metadata spec names.
 */
export const VP_MUTABLE_FIELDS: Record<string, "required" | "optional" | "later"> = {
  ...Object.fromEntries(
    [
      "EXIT_QUALIFICATION",
      "RAX",
      "RCX",
      "RDX",
      "RBX",
      "RBP",
      "RSI",
      "RDI",
      "R8",
      "R9",
      "R10",
      "R11",
      "R12",
      "R13",
      "R14",
      "R15",
      "DR0",
      "DR1",
      "DR2",
      "DR3",
      "DR6",
      "XCR0",
      "CR2",
      "IA32_SPEC_CTRL",
      "IA32_XSS",
      "IA32_STAR",
      "IA32_LSTAR",
      "IA32_FMASK",
      "IA32_KERNEL_GS_BASE",
      "IA32_TSC_AUX",
      "VCPU_STATE",
      "VCPU_INDEX",
      "CPUID_SUPERVISOR_VE",
      "CPUID_USER_VE",
      "PEND_NMI",
      "LAST_TD_EXIT",
      "L2_CTLS",
      "L2_DEBUG_CTLS",
      "TSC_DEADLINE",
      "CPUID_CONTROL",
      "PLE_GAP",
    ].map((n) => [n, "required" as const]),
  ),
  XFAM: "later",
};

/** Which fields a list carries: a scope and the fields' import kinds. */
export interface FieldSet {
  scope: MdScope;
  kinds: Record<string, "required" | "optional" | "later">;
}

export const SYS_IMMUTABLE: FieldSet = {
  scope: "global",
  kinds: Object.fromEntries(SYS_IMMUTABLE_FIELDS.map((n) => [n, "optional"])),
};
export const TD_IMMUTABLE: FieldSet = { scope: "td", kinds: TD_IMMUTABLE_FIELDS };
export const TD_MUTABLE: FieldSet = { scope: "td", kinds: TD_MUTABLE_FIELDS };
export const VP_MUTABLE: FieldSet = { scope: "vcpu", kinds: VP_MUTABLE_FIELDS };

/** One field of the list: a field (array index) of a metadata item. */
interface Unit {
  field: MdField;
  fieldIndex: number;
}

function units(spec: Spec, set: FieldSet): Unit[] {
  const out: Unit[] = [];
  for (const field of catalog(spec).fields(set.scope)) {
    if (!(field.item.name in set.kinds)) continue;
    // CPUID_VALUES has a field per TD_CPUID_LOOKUP entry, not per field code.
    const n = field.item.name === "CPUID_VALUES"
      ? spec.enum("TD_CPUID_LOOKUP").values.length
      : field.numFields;
    for (let i = 0; i < n; i++) out.push({ field, fieldIndex: i });
  }
  return out;
}

function idFields(spec: Spec) {
  return spec.bitfield("MD_FIELD_ID").fields;
}

/** The sequence header of one unit: its first element's id, whole field, one field. */
function sequenceHeader(spec: Spec, scope: MdScope, u: Unit): bigint {
  const id = catalog(spec).elementId(u.field, u.fieldIndex * u.field.elementsPerField);
  const f = decodeBits(idFields(spec), id).fields;
  return encodeBits(idFields(spec), {
    ...f,
    LAST_ELEMENT_IN_FIELD: BigInt(u.field.elementsPerField - 1),
    LAST_FIELD_IN_SEQUENCE: 0n,
    WRITE_MASK_VALID: 0n,
    CONTEXT_CODE: contextCodeOf(spec, scope),
  });
}

/** The next list page of the immutable state of `scope` (the SYS or the TD list). */
export function dumpImmutablePage(c: MdContext, scope: MdScope, from: number) {
  return dumpPage(c, scope === "global" ? SYS_IMMUTABLE : TD_IMMUTABLE, from);
}

/**
 * The next list page of a field set from unit `from`; `next` is the unit to continue
 * with, or undefined when the set is done.
 */
export function dumpPage(
  c: MdContext,
  set: FieldSet,
  from: number,
  capacity = PAGE,
): { page: Uint8Array; next: number | undefined } {
  const scope = set.scope;
  const all = units(c.spec, set);
  const page = new Uint8Array(PAGE);
  const view = new DataView(page.buffer);
  let pos = HEADER;
  let sequences = 0;
  let i = from;
  for (; i < all.length; i++) {
    const u = all[i];
    const n = u.field.elementsPerField;
    if (pos + 8 + 8 * n > capacity) break;
    view.setBigUint64(pos, sequenceHeader(c.spec, scope, u), true);
    for (let e = 0; e < n; e++) {
      const el = catalog(c.spec).element(u.field, u.fieldIndex * n + e);
      const v = elementValue(c, el);
      view.setBigUint64(pos + 8 + 8 * e, typeof v === "bigint" ? v : 0n, true);
    }
    pos += 8 + 8 * n;
    sequences++;
  }
  page.set(
    new StructCodec(c.spec).encode("MD_LIST_HEADER", {
      list_buff_size: pos,
      num_sequences: sequences,
    }),
    0,
  );
  return { page, next: i < all.length ? i : undefined };
}

/** A failure found while parsing a decrypted list, held until the MAC verifies. */
export interface ListError {
  status: string;
  detail?: string;
  ext: [bigint, bigint];
}

/** Imported values by field name, each an array of elements (flat index). */
export type ImportedValues = Map<string, Map<number, bigint>>;

/**
 * Parses one decrypted list page of `scope` into `into`; returns the first problem.
 * `seen` collects the units imported so far (for the required-field check at the end).
 */
export function parseImmutablePage(
  spec: Spec,
  scope: MdScope,
  page: Uint8Array,
  into: ImportedValues,
): ListError | undefined {
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const hdr = new StructCodec(spec).decode("MD_LIST_HEADER", page).value;
  let err: ListError | undefined;
  let size = hdr.list_buff_size as number;
  if (size > PAGE) {
    err = { status: "TDX_OPERAND_INVALID", detail: "PAGE", ext: [0n, 0n] };
    size = PAGE;
  }
  const reserved = hdr.reserved as Uint8Array;
  if (size < HEADER || reserved.some((b) => b !== 0)) {
    return err ?? { status: "TDX_INVALID_METADATA_LIST_HEADER", ext: [0n, 0n] };
  }
  const cat = catalog(spec);
  let pos = HEADER;
  for (let s = 0; s < (hdr.num_sequences as number); s++) {
    if (pos + 8 > size) return err ?? { status: "TDX_METADATA_LIST_OVERFLOW", ext: [0n, 0n] };
    const id = view.getBigUint64(pos, true);
    const f = decodeBits(idFields(spec), id).fields;
    const el = cat.find(scope, id);
    const bad = (): ListError => ({ status: "TDX_METADATA_FIELD_ID_INCORRECT", ext: [id, 0n] });
    if (
      f.CONTEXT_CODE !== contextCodeOf(spec, scope) || f.WRITE_MASK_VALID !== 0n || !el ||
      el.elementIndex !== 0 || f.LAST_ELEMENT_IN_FIELD !== BigInt(el.field.elementsPerField - 1)
    ) return err ?? bad();
    const n = el.field.elementsPerField * (Number(f.LAST_FIELD_IN_SEQUENCE) + 1);
    if (el.flat + n > el.field.item.elements) return err ?? bad();
    if (pos + 8 + 8 * n > size) {
      return err ?? { status: "TDX_METADATA_LIST_OVERFLOW", ext: [id, 0n] };
    }
    let values = into.get(el.field.item.name);
    if (!values) into.set(el.field.item.name, values = new Map());
    for (let e = 0; e < n; e++) values.set(el.flat + e, view.getBigUint64(pos + 8 + 8 * e, true));
    pos += 8 + 8 * n;
  }
  return err;
}

/** The first required field of `set` the import lacks (among those the spec knows). */
export function missingRequiredField(
  spec: Spec,
  got: ImportedValues,
  set: FieldSet = TD_IMMUTABLE,
): MdField | undefined {
  for (const field of catalog(spec).fields(set.scope)) {
    if (set.kinds[field.item.name] !== "required") continue;
    const v = got.get(field.item.name);
    if (!v || v.size < field.item.elements) return field;
  }
  return undefined;
}
