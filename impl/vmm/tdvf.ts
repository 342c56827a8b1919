// A TD virtual firmware image, parsed as QEMU parses it: the OVMF GUIDed table gives
// the TDX metadata offset, the offset gives the TDVF_DESCRIPTOR, the descriptor
// lists the sections to put into TD memory. Checks follow QEMU's order; on top of
// them the launcher refuses overlapping sections and section bytes past the image
// (QEMU leaves both to fail later, inside KVM). Problems are values naming the field.
import type { Spec } from "../spec/mod.ts";
import { StructCodec } from "../spec/codec.ts";
import { decodeBits } from "../spec/bits.ts";
import { fail, type FirmwareError, hex, type Parsed } from "./firmware_error.ts";
import { findOvmfEntry, readOvmfTable } from "./ovmf_table.ts";
import { fieldOf, fieldOffset, readField, structSize } from "./spec_layout.ts";

/** TDVF sections are placed and sized in whole 4 KiB pages. */
const TDVF_ALIGNMENT = 4096n;
/** QEMU refuses metadata with fewer sections than this. */
const MIN_SECTIONS = 2;

export interface TdvfSection {
  index: number;
  dataOffset: number;
  rawDataSize: number;
  memoryAddress: bigint;
  memoryDataSize: bigint;
  type: number;
  /** TDVF_SECTION_TYPE value name, e.g. "BFV". */
  typeName: string;
  attributes: number;
  /** Names of the TDVF_SECTION_ATTRIBUTES bits that are set. */
  attributeNames: string[];
  /** MR_EXTEND is set: the section's pages are measured into MRTD. */
  measured: boolean;
}

export interface TdvfFirmware {
  image: Uint8Array;
  /** metadata_offset from the TDX metadata offset entry. */
  metadataOffset: number;
  /** Image offset of the TDVF_DESCRIPTOR. */
  descriptorOffset: number;
  version: number;
  sections: TdvfSection[];
}

/** The image bytes a section copies into TD memory (empty for TD_HOB and TEMP_MEM). */
export function sectionData(fw: TdvfFirmware, s: TdvfSection): Uint8Array {
  return fw.image.subarray(s.dataOffset, s.dataOffset + s.rawDataSize);
}

export function parseTdvf(spec: Spec, image: Uint8Array): Parsed<TdvfFirmware> {
  const table = readOvmfTable(spec, image);
  if (!table.ok) return table;
  const entry = findOvmfEntry(spec, table.value, "TDX_METADATA_OFFSET_GUID");
  if (!entry) {
    const c = table.value.corruptAt;
    return c
      ? fail(
        "not-tdvf",
        "OVMF_TABLE_ENTRY.entry_length",
        `the OVMF table walk stopped at an entry of length ${c.entryLength} (image offset ` +
          `${hex(c.offset)}) before finding the TDX metadata offset entry`,
        c.offset,
      )
      : fail(
        "not-tdvf",
        "TDX_METADATA_OFFSET_ENTRY.guid",
        "the OVMF table has no TDX metadata offset entry: not a TDVF image",
      );
  }
  const entrySize = structSize(spec, "TDX_METADATA_OFFSET_ENTRY");
  const lengthField = fieldOf(spec, "TDX_METADATA_OFFSET_ENTRY", "entry_length");
  if (entry.length !== entrySize) {
    return fail(
      "invalid",
      "TDX_METADATA_OFFSET_ENTRY.entry_length",
      `the TDX metadata offset entry is ${entry.length} bytes long, not ${entrySize}`,
      entry.offset + lengthField.offset,
    );
  }
  const metadataOffset = Number(
    readField(spec, image, entry.offset, "TDX_METADATA_OFFSET_ENTRY", "metadata_offset"),
  );
  const at = image.length - metadataOffset;
  const headerSize = structSize(spec, "TDVF_DESCRIPTOR");
  if (metadataOffset > image.length || at + headerSize > image.length) {
    return fail(
      "truncated",
      "TDX_METADATA_OFFSET_ENTRY.metadata_offset",
      `metadata offset ${hex(metadataOffset)} does not leave a ${headerSize}-byte TDVF ` +
        `descriptor inside the ${image.length}-byte image`,
      entry.offset,
    );
  }
  return parseDescriptor(spec, image, metadataOffset, at);
}

function parseDescriptor(
  spec: Spec,
  image: Uint8Array,
  metadataOffset: number,
  at: number,
): Parsed<TdvfFirmware> {
  const D = "TDVF_DESCRIPTOR";
  const expected = (field: string) => {
    const f = spec.struct(D).fields.find((x) => x.name === field)!;
    return BigInt(f.value!);
  };
  const at_ = (field: string) => at + fieldOf(spec, D, field).offset;
  const signature = readField(spec, image, at, D, "signature");
  if (signature !== expected("signature")) {
    return fail(
      "not-tdvf",
      `${D}.signature`,
      `signature ${hex(signature)} at image offset ${hex(at_("signature"))} is not ` +
        `${hex(expected("signature"))} ("TDVF")`,
      at_("signature"),
    );
  }
  const length = Number(readField(spec, image, at, D, "length"));
  if (at + length > image.length) {
    return fail(
      "truncated",
      `${D}.length`,
      `descriptor length ${length} runs past the end of the image (${
        image.length - at
      } bytes left)`,
      at_("length"),
    );
  }
  const version = readField(spec, image, at, D, "version");
  if (version !== expected("version")) {
    return fail(
      "invalid",
      `${D}.version`,
      `metadata version ${version} is not ${expected("version")}`,
      at_("version"),
    );
  }
  const count = Number(readField(spec, image, at, D, "number_of_section_entries"));
  if (count < MIN_SECTIONS) {
    return fail(
      "invalid",
      `${D}.number_of_section_entries`,
      `${count} section entries; TDVF metadata needs at least ${MIN_SECTIONS}`,
      at_("number_of_section_entries"),
    );
  }
  const sectionSize = structSize(spec, "TDVF_SECTION");
  const headerSize = fieldOffset(spec, D, "sections");
  if (length !== headerSize + count * sectionSize) {
    return fail(
      "invalid",
      `${D}.length`,
      `descriptor length ${length} is not ${headerSize} + ${sectionSize} x ${count} = ` +
        `${headerSize + count * sectionSize}`,
      at_("length"),
    );
  }
  const decoded = new StructCodec(spec).decode(D, image.subarray(at, at + length)).value;
  const sections: TdvfSection[] = [];
  for (const [i, raw] of (decoded.sections as Record<string, number | bigint>[]).entries()) {
    const s = toSection(spec, i, raw);
    const bad = checkSection(spec, s, image.length, at + headerSize + i * sectionSize);
    if (bad) return { ok: false, error: bad };
    sections.push(s);
  }
  const overlap = findOverlap(sections, at + headerSize, sectionSize, spec);
  if (overlap) return { ok: false, error: overlap };
  const hob = sections.find((s) => s.typeName === "TD_HOB");
  if (!hob) {
    return fail("missing-section", `${D}.sections`, "the metadata has no TD_HOB section");
  }
  return {
    ok: true,
    value: { image, metadataOffset, descriptorOffset: at, version: Number(version), sections },
  };
}

function toSection(spec: Spec, index: number, raw: Record<string, number | bigint>): TdvfSection {
  const type = Number(raw.type);
  const attributes = Number(raw.attributes);
  const bits = decodeBits(spec.bitfield("TDVF_SECTION_ATTRIBUTES").fields, BigInt(attributes));
  const typeValue = spec.enum("TDVF_SECTION_TYPE").values.find((v) =>
    BigInt(v.value) === BigInt(type)
  );
  return {
    index,
    dataOffset: Number(raw.data_offset),
    rawDataSize: Number(raw.raw_data_size),
    memoryAddress: BigInt(raw.memory_address),
    memoryDataSize: BigInt(raw.memory_data_size),
    type,
    typeName: typeValue?.name ?? `unknown (${type})`,
    attributes,
    attributeNames: Object.entries(bits.fields)
      .filter(([name, v]) => v !== 0n && name !== "RESERVED")
      .map(([name]) => name),
    measured: bits.fields.MR_EXTEND === 1n,
  };
}

/** Section types upstream QEMU accepts, and whether their bytes come from the image. */
const COPIED = new Set(["BFV", "CFV"]);
const EMPTY = new Set(["TD_HOB", "TEMP_MEM"]);

function checkSection(
  spec: Spec,
  s: TdvfSection,
  imageSize: number,
  entryAt: number,
): FirmwareError | undefined {
  const name = (f: string) => `TDVF_SECTION[${s.index}].${f}`;
  const off = (f: string) => entryAt + fieldOf(spec, "TDVF_SECTION", f).offset;
  if (s.memoryDataSize < BigInt(s.rawDataSize)) {
    return {
      kind: "invalid",
      field: name("memory_data_size"),
      offset: off("memory_data_size"),
      message: `memory size ${hex(s.memoryDataSize)} is smaller than the raw data size ` +
        `${hex(s.rawDataSize)}`,
    };
  }
  if (s.memoryAddress % TDVF_ALIGNMENT !== 0n) {
    return {
      kind: "invalid",
      field: name("memory_address"),
      offset: off("memory_address"),
      message: `memory address ${hex(s.memoryAddress)} is not 4 KiB aligned`,
    };
  }
  if (s.memoryDataSize % TDVF_ALIGNMENT !== 0n) {
    return {
      kind: "invalid",
      field: name("memory_data_size"),
      offset: off("memory_data_size"),
      message: `memory size ${hex(s.memoryDataSize)} is not 4 KiB aligned`,
    };
  }
  if (COPIED.has(s.typeName)) {
    if (s.rawDataSize === 0) {
      return {
        kind: "invalid",
        field: name("raw_data_size"),
        offset: off("raw_data_size"),
        message: `a ${s.typeName} section needs image data, but its raw data size is 0`,
      };
    }
  } else if (EMPTY.has(s.typeName)) {
    if (s.rawDataSize !== 0) {
      return {
        kind: "invalid",
        field: name("raw_data_size"),
        offset: off("raw_data_size"),
        message: `a ${s.typeName} section starts empty, but its raw data size is ` +
          `${hex(s.rawDataSize)}`,
      };
    }
  } else {
    return {
      kind: "bad-section-type",
      field: name("type"),
      offset: off("type"),
      message: `section type ${s.type} (${s.typeName}) is not one of BFV, CFV, TD_HOB, TEMP_MEM`,
    };
  }
  if (s.dataOffset + s.rawDataSize > imageSize) {
    return {
      kind: "truncated",
      field: name("data_offset"),
      offset: off("data_offset"),
      message: `image bytes ${hex(s.dataOffset)}..${hex(s.dataOffset + s.rawDataSize)} run ` +
        `past the end of the ${imageSize}-byte image`,
    };
  }
  return undefined;
}

function findOverlap(
  sections: TdvfSection[],
  firstEntryAt: number,
  sectionSize: number,
  spec: Spec,
): FirmwareError | undefined {
  const byAddress = [...sections].sort((a, b) =>
    a.memoryAddress < b.memoryAddress ? -1 : a.memoryAddress > b.memoryAddress ? 1 : 0
  );
  for (let i = 1; i < byAddress.length; i++) {
    const prev = byAddress[i - 1];
    const cur = byAddress[i];
    if (cur.memoryAddress < prev.memoryAddress + prev.memoryDataSize) {
      const later = prev.index > cur.index ? prev : cur;
      const other = later === prev ? cur : prev;
      return {
        kind: "overlap",
        field: `TDVF_SECTION[${later.index}].memory_address`,
        offset: firstEntryAt + later.index * sectionSize +
          fieldOf(spec, "TDVF_SECTION", "memory_address").offset,
        message: `guest range ${range(later)} overlaps TDVF_SECTION[${other.index}] ` +
          `(${other.typeName}, ${range(other)})`,
      };
    }
  }
  return undefined;
}

function range(s: TdvfSection): string {
  return `${hex(s.memoryAddress)}..${hex(s.memoryAddress + s.memoryDataSize)}`;
}
