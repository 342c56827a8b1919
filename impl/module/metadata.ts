// Metadata access shared by TDH.SYS.RD/RDALL, TDH.MNG.RD/WR, TDH.VP.RD/WR and the
// guest's TDG.SYS.RD/RDALL, TDG.VM.RD/WR and TDG.VP.RD/WR. Everything about a field
// comes from spec/metadata (field id, element size, num_fields and elements, access
// classes, partial `masks`, `full_write_only`); the id layout from the MD_FIELD_ID
// bitfield; the walk order is the module's (class code, then field code).
//
// API (statuses are spec status names; leaves turn them into completions):
//   Field ids
//     FIELD_ID_NA                          the all-ones null id
//     decodeFieldId(spec, raw)             FieldIdParts by MD_FIELD_ID
//     isNullFieldId(spec, raw)             all ones apart from the context code
//     checkSingleElementId(spec, raw)      "TDX_METADATA_FIELD_ID_INCORRECT" | undefined
//     withContext(spec, raw, scope)        the id with the scope's context code forced
//     contextCodeOf(spec, scope)
//   Catalog (catalog(spec), cached per Spec)
//     .fields(scope) / .field(scope, name) MdField: item, baseId, classCode, stride,
//                                          numFields, elementsPerField, elementSize
//     .find(scope, raw)                    MdElement {field, flat, fieldIndex,
//                                          elementIndex, id} by class + field code only
//     .element(field, flat) / .elementId(field, flat)
//   Access
//     accessMasks(field, {who: "host"|"guest", debug?, finalized?}) -> {read, write}
//     tdIsDebug(spec, td)                  ATTRIBUTES.DEBUG (the host's debug qualifier)
//   Operations on an MdContext {spec, cpu, state, td?, vcpu?, lock?}
//     mdRead(c, scope, raw, access)        {status, value?, detail?, element?}
//     mdWrite(c, scope, raw, value, mask, access)   {status, old?, detail?, element?}
//     mdNextElementId / mdNextFieldId(c, scope, raw|FIELD_ID_NA, access)
//     mdDumpList(c, scope, start, access, size = 4096)  {status, list?, next} (MD_LIST)
//     elementValue(c, el), storedMap(c, scope), mdElementLockKey(c, el)
// Values: a field with semantics has an MdFieldHandler (read, write, exists, readable,
// locate/codeOf) in md_values_{global,td,vcpu}.ts, supplied by the scope's owner; any
// other field lives in the scope's stored map (platform.mdFields, td.fields,
// vcpu.fields) keyed by the element's canonical id, zero until written.
import type { MetadataItem, Spec } from "../spec/mod.ts";
import { decodeBits } from "../spec/bits.ts";
import { parseHex } from "../spec/hex.ts";
import { StructCodec } from "../spec/codec.ts";
import type { Cpu } from "../cpu/cpu.ts";
import type { ModuleState, TdState, VcpuState } from "./state.ts";
import { GLOBAL_MD_VALUES } from "./md_values_global.ts";
import { TD_MD_VALUES } from "./md_values_td.ts";
import { VCPU_MD_VALUES } from "./md_values_vcpu.ts";

export type MdScope = "global" | "td" | "vcpu";

export const FIELD_ID_NA = 0xFFFF_FFFF_FFFF_FFFFn;
const U64 = 0xFFFF_FFFF_FFFF_FFFFn;

// ---------------------------------------------------------------- field ids

export interface FieldIdParts {
  fieldCode: bigint;
  elementSizeCode: bigint;
  lastElementInField: bigint;
  lastFieldInSequence: bigint;
  incSize: bigint;
  writeMaskValid: bigint;
  contextCode: bigint;
  classCode: bigint;
  nonArch: bigint;
  /** Any reserved bit set. */
  reservedSet: boolean;
}

/** MD_FIELD_ID's fields by role: the bitfield item names them. */
function fieldIdLayout(spec: Spec) {
  return spec.bitfield("MD_FIELD_ID").fields;
}

function bitsOf(spec: Spec, name: string): [number, number] {
  const f = fieldIdLayout(spec).find((x) => x.name === name);
  if (!f) throw new Error(`MD_FIELD_ID has no field ${name}`);
  return f.bits;
}

function withBits(value: bigint, [lo, hi]: [number, number], field: bigint): bigint {
  const m = ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
  return (value & ~m) | ((field << BigInt(lo)) & m);
}

export function decodeFieldId(spec: Spec, raw: bigint): FieldIdParts {
  const layout = fieldIdLayout(spec);
  const { fields, undefinedBits } = decodeBits(layout, raw & U64);
  let reservedSet = undefinedBits !== 0n;
  for (const f of layout) if (f.reserved && fields[f.name] !== 0n) reservedSet = true;
  return {
    fieldCode: fields.FIELD_CODE,
    elementSizeCode: fields.ELEMENT_SIZE_CODE,
    lastElementInField: fields.LAST_ELEMENT_IN_FIELD,
    lastFieldInSequence: fields.LAST_FIELD_IN_SEQUENCE,
    incSize: fields.INC_SIZE,
    writeMaskValid: fields.WRITE_MASK_VALID,
    contextCode: fields.CONTEXT_CODE,
    classCode: fields.CLASS_CODE,
    nonArch: fields.NON_ARCH,
    reservedSet,
  };
}

/** The null field id: all ones apart from the context code (which callers ignore). */
export function isNullFieldId(spec: Spec, raw: bigint): boolean {
  return withBits(raw & U64, bitsOf(spec, "CONTEXT_CODE"), -1n) === FIELD_ID_NA;
}

/** The checks for an id naming one element: reserved bits and the sequence counts 0. */
export function checkSingleElementId(spec: Spec, raw: bigint): string | undefined {
  const p = decodeFieldId(spec, raw);
  if (p.reservedSet || p.lastElementInField !== 0n || p.lastFieldInSequence !== 0n) {
    return "TDX_METADATA_FIELD_ID_INCORRECT";
  }
  return undefined;
}

/** The MD_CONTEXT_CODE value of a scope. */
export function contextCodeOf(spec: Spec, scope: MdScope): bigint {
  return spec.enumValue(
    "MD_CONTEXT_CODE",
    scope === "global" ? "PLATFORM" : scope === "td" ? "TD" : "VCPU",
  );
}

/** `raw` with its context code replaced, as the single-element interfaces do. */
export function withContext(spec: Spec, raw: bigint, scope: MdScope): bigint {
  return withBits(raw & U64, bitsOf(spec, "CONTEXT_CODE"), contextCodeOf(spec, scope));
}

// ---------------------------------------------------------------- catalog

export interface MdField {
  item: MetadataItem;
  scope: MdScope;
  baseId: bigint;
  classCode: bigint;
  baseCode: bigint;
  /** Field-code step between elements (2 for TD VMCS fields, INC_SIZE set). */
  stride: bigint;
  numFields: number;
  elementsPerField: number;
  elementSize: number;
  /** All ones over the element size. */
  fullMask: bigint;
}

export interface MdElement {
  field: MdField;
  /** Element number across the whole array (field * elementsPerField + element). */
  flat: number;
  fieldIndex: number;
  elementIndex: number;
  /** The canonical id of this element: the spec's base id with its field code. */
  id: bigint;
}

export class MetadataCatalog {
  private readonly byScope = new Map<MdScope, MdField[]>();

  constructor(readonly spec: Spec) {
    for (const scope of ["global", "td", "vcpu"] as const) this.byScope.set(scope, []);
    for (const item of spec.metadata.values()) {
      const baseId = parseHex(item.field_id);
      const p = decodeFieldId(spec, baseId);
      const numFields = item.num_fields ?? 1;
      this.byScope.get(item.scope)!.push({
        item,
        scope: item.scope,
        baseId,
        classCode: p.classCode,
        baseCode: p.fieldCode,
        stride: p.incSize + 1n,
        numFields,
        elementsPerField: item.elements / numFields,
        elementSize: item.element_size,
        fullMask: (1n << BigInt(8 * item.element_size)) - 1n,
      });
    }
    // The module's tables run by class code, then field code: that is the walk order.
    for (const list of this.byScope.values()) {
      list.sort((a, b) =>
        a.classCode !== b.classCode
          ? Number(a.classCode - b.classCode)
          : Number(a.baseCode - b.baseCode)
      );
    }
  }

  fields(scope: MdScope): readonly MdField[] {
    return this.byScope.get(scope)!;
  }

  field(scope: MdScope, name: string): MdField {
    const f = this.fields(scope).find((x) => x.item.name === name);
    if (!f) throw new Error(`no ${scope} metadata field ${name}`);
    return f;
  }

  /** The element `raw` names (class code and field code; other bits are not looked at). */
  find(scope: MdScope, raw: bigint): MdElement | undefined {
    const p = decodeFieldId(this.spec, raw);
    for (const field of this.fields(scope)) {
      if (field.classCode !== p.classCode) continue;
      const handler = handlerFor(field);
      if (handler?.locate) {
        const flat = handler.locate(this.spec, p.fieldCode);
        if (flat !== undefined) return this.element(field, flat);
        continue;
      }
      const off = p.fieldCode - field.baseCode;
      const count = BigInt(field.item.elements);
      if (off < 0n || off >= count * field.stride || off % field.stride !== 0n) continue;
      return this.element(field, Number(off / field.stride));
    }
    return undefined;
  }

  element(field: MdField, flat: number): MdElement {
    return {
      field,
      flat,
      fieldIndex: Math.floor(flat / field.elementsPerField),
      elementIndex: flat % field.elementsPerField,
      id: this.elementId(field, flat),
    };
  }

  elementId(field: MdField, flat: number): bigint {
    const handler = handlerFor(field);
    const code = handler?.codeOf
      ? handler.codeOf(this.spec, flat)
      : field.baseCode + BigInt(flat) * field.stride;
    return withBits(field.baseId, bitsOf(this.spec, "FIELD_CODE"), code);
  }
}

const catalogs = new WeakMap<Spec, MetadataCatalog>();

export function catalog(spec: Spec): MetadataCatalog {
  let c = catalogs.get(spec);
  if (!c) {
    c = new MetadataCatalog(spec);
    catalogs.set(spec, c);
  }
  return c;
}

// ---------------------------------------------------------------- access

export interface MdAccess {
  /** "servtd": a bound service TD through TDG.SERVTD.RD/WR (the servtd_* access and masks). */
  who: "host" | "guest" | "servtd";
  /** Host access to a TD whose ATTRIBUTES.DEBUG is set (the module's debug qualifier). */
  debug?: boolean;
  /** The TD is finalized (host *-before-finalize fields stop being writable). */
  finalized?: boolean;
}

export function tdIsDebug(spec: Spec, td: TdState): boolean {
  return decodeBits(spec.bitfield("TD_ATTRIBUTES").fields, td.attributes).fields.DEBUG === 1n;
}

function classMasks(access: string, full: bigint): { read: bigint; write: bigint } {
  switch (access) {
    case "ro":
    case "ro-before-finalize":
      return { read: full, write: 0n };
    case "rw":
    case "rw-before-finalize":
      return { read: full, write: full };
    default:
      return { read: 0n, write: 0n };
  }
}

/** Read and write masks of a field for one accessor. */
export function accessMasks(field: MdField, access: MdAccess): { read: bigint; write: bigint } {
  const it = field.item;
  const full = field.fullMask;
  const m = it.masks ?? {};
  const pick = (v: string | undefined, d: bigint) => (v !== undefined ? parseHex(v) : d);
  if (access.who === "guest") {
    const d = classMasks(it.guest_access, full);
    return { read: pick(m.guest_read, d.read), write: pick(m.guest_write, d.write) };
  }
  if (access.who === "servtd") {
    const d = classMasks(it.servtd_access ?? "none", full);
    return { read: pick(m.servtd_read, d.read), write: pick(m.servtd_write, d.write) };
  }
  const host = it.host_access;
  let r: { read: bigint; write: bigint };
  if (access.debug) {
    // On a debug TD the debug masks apply; a "-debug" class means "only then".
    const d = classMasks(host.replace(/-debug$/, ""), full);
    r = { read: pick(m.debug_read, d.read), write: pick(m.debug_write, d.write) };
  } else {
    const d = host.endsWith("-debug") ? { read: 0n, write: 0n } : classMasks(host, full);
    r = { read: pick(m.host_read, d.read), write: pick(m.host_write, d.write) };
  }
  if (access.finalized && host.endsWith("-before-finalize")) r.write = 0n;
  return r;
}

// ---------------------------------------------------------------- values

/** Where a field's values live for one call: the module state and, by scope, the TD and vCPU. */
export interface MdContext {
  spec: Spec;
  cpu: Cpu;
  state: ModuleState;
  td?: TdState;
  vcpu?: VcpuState;
  /** Takes the element's lock for an update; false when another operation holds it. */
  lock?: (resource: string) => boolean;
}

/** A refusal with a status name (and detail) instead of a value. */
export interface MdRefusal {
  status: string;
  detail?: string | bigint;
}

/**
 * The semantics of one field, supplied by the owner of its scope. Every hook is
 * optional: without `read`/`write` the element lives in the scope's stored map.
 */
export interface MdFieldHandler {
  /** The element's value before masking. */
  read?(c: MdContext, el: MdElement): bigint | MdRefusal;
  /** Stores the merged value; returning a refusal rejects the write (no change made). */
  write?(
    c: MdContext,
    el: MdElement,
    value: bigint,
    old: bigint,
    access: MdAccess,
  ): MdRefusal | undefined;
  /**
   * The current value as a write sees it (forbidden-bit check and merge): a physical
   * address field still at NULL_PA counts as having only its writable bits set.
   */
  adjustOnWrite?(c: MdContext, el: MdElement, cur: bigint, writeMask: bigint): bigint;
  /** False when the element does not exist for this TD/vCPU (e.g. an absent L2 VM). */
  exists?(c: MdContext, el: MdElement): boolean;
  /** A refusal when the element exists but may not be read now (e.g. a faulting CPUID leaf). */
  readable?(c: MdContext, el: MdElement): MdRefusal | undefined;
  /** Maps a field code to an element number for fields whose codes are not an index. */
  locate?(spec: Spec, fieldCode: bigint): number | undefined;
  /** Inverse of `locate`. */
  codeOf?(spec: Spec, flat: number): bigint;
}

export type MdHandlers = Record<string, MdFieldHandler>;

const HANDLERS: Record<MdScope, MdHandlers> = {
  global: GLOBAL_MD_VALUES,
  td: TD_MD_VALUES,
  vcpu: VCPU_MD_VALUES,
};

function handlerFor(field: MdField): MdFieldHandler | undefined {
  return HANDLERS[field.scope][field.item.name];
}

function isRefusal(v: unknown): v is MdRefusal {
  return typeof v === "object" && v !== null && "status" in v;
}

/** The stored-value map of a scope for this call. */
export function storedMap(c: MdContext, scope: MdScope): Map<bigint, bigint> {
  if (scope === "global") return c.state.platform.mdFields;
  if (scope === "td") {
    if (!c.td) throw new Error("TD-scope metadata access without a TD");
    return c.td.fields;
  }
  if (!c.vcpu) throw new Error("vCPU-scope metadata access without a vCPU");
  return c.vcpu.fields;
}

/** The raw value of an element (owner's getter, else the stored map), not masked. */
export function elementValue(c: MdContext, el: MdElement): bigint | MdRefusal {
  const h = handlerFor(el.field);
  if (h?.read) return h.read(c, el);
  return storedMap(c, el.field.scope).get(el.id) ?? 0n;
}

function exists(c: MdContext, el: MdElement): boolean {
  return handlerFor(el.field)?.exists?.(c, el) ?? true;
}

// ---------------------------------------------------------------- read / write

export interface MdReadResult {
  status: string;
  detail?: string | bigint;
  value?: bigint;
  element?: MdElement;
}

function locateChecked(
  c: MdContext,
  scope: MdScope,
  raw: bigint,
): MdElement | MdRefusal {
  const el = catalog(c.spec).find(scope, raw);
  if (!el || !exists(c, el)) return { status: "TDX_METADATA_FIELD_ID_INCORRECT" };
  const notNow = handlerFor(el.field)?.readable?.(c, el);
  if (notNow) return notNow;
  return el;
}

/** Reads one element (the caller has already checked the id with checkSingleElementId). */
export function mdRead(c: MdContext, scope: MdScope, raw: bigint, access: MdAccess): MdReadResult {
  const el = locateChecked(c, scope, raw);
  if (isRefusal(el)) return el;
  const { read } = accessMasks(el.field, access);
  if (read === 0n) return { status: "TDX_METADATA_FIELD_NOT_READABLE", element: el };
  const v = elementValue(c, el);
  if (isRefusal(v)) return { ...v, element: el };
  return { status: "TDX_SUCCESS", value: v & read, element: el };
}

export interface MdWriteResult {
  status: string;
  detail?: string | bigint;
  /** The element's previous value masked by the read mask (on success). */
  old?: bigint;
  element?: MdElement;
}

/** Lock resource of one element of one TD/vCPU (for concurrent-update busy). */
export function mdElementLockKey(c: MdContext, el: MdElement): string {
  const owner = el.field.scope === "global"
    ? undefined
    : el.field.scope === "td"
    ? c.td!.tdr
    : c.vcpu!.tdvpr;
  return mdElementLockKeyOf(el.field.scope, owner, el.id);
}

/** The same key from the element's scope, its owner's TDR or TDVPR, and its canonical id. */
export function mdElementLockKeyOf(scope: MdScope, owner: bigint | undefined, id: bigint): string {
  return `md:${scope === "global" ? "sys" : owner!.toString(16)}:${id.toString(16)}`;
}

/** Writes the bits of `value` selected by `requestMask` and the accessor's write mask. */
export function mdWrite(
  c: MdContext,
  scope: MdScope,
  raw: bigint,
  value: bigint,
  requestMask: bigint,
  access: MdAccess,
): MdWriteResult {
  const el = locateChecked(c, scope, raw);
  if (isRefusal(el)) return el;
  const { read, write } = accessMasks(el.field, access);
  const combined = write & requestMask;
  if (combined === 0n) return { status: "TDX_METADATA_FIELD_NOT_WRITABLE", element: el };
  const cur = elementValue(c, el);
  if (isRefusal(cur)) return { ...cur, element: el };
  const h = handlerFor(el.field);
  const base = h?.adjustOnWrite?.(c, el, cur, write) ?? cur;
  // Bits the caller asks to write but may not must keep their value.
  const forbidden = requestMask & ~write;
  if (((base ^ value) & forbidden) !== 0n) {
    return { status: "TDX_METADATA_FIELD_VALUE_NOT_VALID", element: el };
  }
  const next = (base & ~combined) | (value & combined);
  if (el.field.item.full_write_only && combined !== write) {
    return { status: "TDX_METADATA_WR_MASK_NOT_VALID", element: el };
  }
  if (c.lock && !c.lock(mdElementLockKey(c, el))) {
    return { status: "TDX_OPERAND_BUSY", detail: "METADATA_FIELD", element: el };
  }
  if (h?.write) {
    const refused = h.write(c, el, next & el.field.fullMask, cur, access);
    if (refused) return { ...refused, element: el };
  } else {
    storedMap(c, scope).set(el.id, next & el.field.fullMask);
  }
  return { status: "TDX_SUCCESS", old: cur & read, element: el };
}

// ---------------------------------------------------------------- iteration

function accessible(field: MdField, access: MdAccess, forWrite: boolean): boolean {
  const m = accessMasks(field, access);
  return forWrite ? m.write !== 0n : m.read !== 0n;
}

/**
 * The id of the element after `raw` (or the first, when `raw` is the null id) that the
 * accessor may read (or write), element by element or field by field; FIELD_ID_NA at
 * the end of the context.
 */
function nextId(
  c: MdContext,
  scope: MdScope,
  raw: bigint,
  access: MdAccess,
  byField: boolean,
  forWrite = false,
): bigint {
  const cat = catalog(c.spec);
  const fields = cat.fields(scope);
  let fi = 0;
  let flat = 0;
  if (!isNullFieldId(c.spec, raw)) {
    const el = cat.find(scope, raw);
    if (!el) return FIELD_ID_NA;
    fi = fields.indexOf(el.field);
    flat = byField ? (el.fieldIndex + 1) * el.field.elementsPerField : el.flat + 1;
  }
  for (; fi < fields.length; fi++, flat = 0) {
    const f = fields[fi];
    if (flat >= f.item.elements || !accessible(f, access, forWrite)) continue;
    for (; flat < f.item.elements; flat += byField ? f.elementsPerField : 1) {
      const el = cat.element(f, flat);
      if (exists(c, el)) return el.id;
    }
  }
  return FIELD_ID_NA;
}

export function mdNextElementId(c: MdContext, scope: MdScope, raw: bigint, access: MdAccess) {
  return nextId(c, scope, raw, access, false);
}

export function mdNextFieldId(c: MdContext, scope: MdScope, raw: bigint, access: MdAccess) {
  return nextId(c, scope, raw, access, true);
}

// ---------------------------------------------------------------- metadata lists

export interface MdDumpResult {
  status: string;
  /** MD_LIST bytes (header and sequences), `size` bytes long; undefined if nothing was written. */
  list?: Uint8Array;
  /** The field to resume from, or FIELD_ID_NA when the context is done. */
  next: bigint;
}

const HEADER = 8;

/**
 * Fills a metadata list with every readable field from `start` (null id: the first),
 * as RDALL does: sequences of consecutive fields of one class with the same element
 * count and size, each whole field or none; TDX_METADATA_LIST_OVERFLOW with the
 * field to resume from when the buffer is full.
 */
export function mdDumpList(
  c: MdContext,
  scope: MdScope,
  start: bigint,
  access: MdAccess,
  size = 4096,
): MdDumpResult {
  const spec = c.spec;
  const cat = catalog(spec);
  const id = isNullFieldId(spec, start) ? mdNextFieldId(c, scope, FIELD_ID_NA, access) : start;
  if (id === FIELD_ID_NA) return { status: "TDX_SUCCESS", next: FIELD_ID_NA };
  const first = cat.find(scope, id);
  if (
    !first || !exists(c, first) || first.elementIndex !== 0 ||
    decodeFieldId(spec, id).elementSizeCode !==
      decodeFieldId(spec, first.field.baseId).elementSizeCode
  ) {
    return { status: "TDX_METADATA_FIELD_ID_INCORRECT", next: FIELD_ID_NA };
  }
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  const code = (e: MdElement) => decodeFieldId(spec, e.id).fieldCode;
  let used = HEADER;
  let sequences = 0;
  let at: MdElement | undefined = first;
  while (at && size - used >= 8 + 8 * at.field.elementsPerField) {
    // One sequence: its header, then whole fields while they stay consecutive.
    const headerAt = used;
    let pos = used + 8;
    let fieldsIn = 0;
    let firstId = 0n;
    const shape: MdField = at.field;
    let ended = false;
    while (at && size - pos >= 8 * at.field.elementsPerField) {
      const f: MdField = at.field;
      const values: bigint[] = [];
      for (let i = 0; i < f.elementsPerField; i++) {
        const r = mdRead(c, scope, cat.elementId(f, at.flat + i), access);
        if (r.status !== "TDX_SUCCESS") break;
        values.push(r.value!);
      }
      const readable = values.length === f.elementsPerField;
      if (readable) {
        if (fieldsIn === 0) firstId = at.id;
        values.forEach((v, i) => view.setBigUint64(pos + 8 * i, v, true));
        pos += 8 * f.elementsPerField;
        fieldsIn++;
      }
      const nextId = mdNextFieldId(c, scope, at.id, access);
      const nextEl: MdElement | undefined = nextId === FIELD_ID_NA
        ? undefined
        : cat.find(scope, nextId);
      const consecutive = readable && nextEl !== undefined &&
        !handlerFor(f)?.locate && !handlerFor(nextEl.field)?.locate &&
        nextEl.field.classCode === f.classCode &&
        code(nextEl) === code(at) + BigInt(f.elementsPerField) * f.stride &&
        nextEl.field.elementsPerField === shape.elementsPerField &&
        nextEl.field.elementSize === shape.elementSize;
      at = nextEl;
      if (!consecutive) {
        ended = true;
        break;
      }
    }
    if (fieldsIn > 0) {
      let h = withBits(firstId, bitsOf(spec, "CONTEXT_CODE"), contextCodeOf(spec, scope));
      h = withBits(h, bitsOf(spec, "LAST_ELEMENT_IN_FIELD"), BigInt(shape.elementsPerField - 1));
      h = withBits(h, bitsOf(spec, "LAST_FIELD_IN_SEQUENCE"), BigInt(fieldsIn - 1));
      h = withBits(h, bitsOf(spec, "WRITE_MASK_VALID"), 0n);
      view.setBigUint64(headerAt, h, true);
      used = pos;
      sequences++;
    }
    if (!ended) break;
  }
  const codec = new StructCodec(spec);
  buf.set(codec.encode("MD_LIST_HEADER", { list_buff_size: used, num_sequences: sequences }), 0);
  const next = at ? at.id : FIELD_ID_NA;
  return {
    status: next === FIELD_ID_NA ? "TDX_SUCCESS" : "TDX_METADATA_LIST_OVERFLOW",
    list: buf,
    next,
  };
}
