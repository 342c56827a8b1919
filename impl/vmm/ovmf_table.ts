// OVMF's GUIDed table: a list of (data, length, GUID) entries packed backwards
// from a footer near the end of the firmware image. The TDX metadata offset is one
// of its entries. Walked the way QEMU walks it: footer GUID first, then entries
// from the footer down, stopping at the first entry whose length makes no sense.
import type { Spec } from "../spec/mod.ts";
import { StructCodec } from "../spec/codec.ts";
import { fail, hex, type Parsed } from "./firmware_error.ts";
import { fieldOf, readField, structSize } from "./spec_layout.ts";

/** Images shorter than this are not searched (QEMU's TARGET_PAGE_SIZE). */
const MIN_IMAGE_SIZE = 4096;

export interface OvmfTableEntry {
  guid: Uint8Array;
  /** Offset in the image of the entry's first byte (its data). */
  offset: number;
  /** entry_length: data, length field and GUID. */
  length: number;
}

export interface OvmfTable {
  /** Image offset of the footer. */
  footerOffset: number;
  entries: OvmfTableEntry[];
  /** Set when the walk stopped at an entry with an impossible length. */
  corruptAt?: { offset: number; entryLength: number };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The bytes of a GUID the spec gives as a struct whose fields are all fixed values. */
export function guidBytes(spec: Spec, name: string): Uint8Array {
  return new StructCodec(spec).encode(name, {});
}

export function readOvmfTable(spec: Spec, image: Uint8Array): Parsed<OvmfTable> {
  if (image.length < MIN_IMAGE_SIZE) {
    return fail(
      "not-tdvf",
      "image",
      `the image is ${image.length} bytes; an OVMF image is at least ${MIN_IMAGE_SIZE}`,
    );
  }
  const tailSize = structSize(spec, "OVMF_IMAGE_TAIL");
  const footerAt = image.length - tailSize +
    fieldOf(spec, "OVMF_IMAGE_TAIL", "table_footer").offset;
  const guid = fieldOf(spec, "OVMF_TABLE_FOOTER", "guid");
  const found = image.subarray(footerAt + guid.offset, footerAt + guid.offset + guid.size);
  if (!sameBytes(found, guidBytes(spec, "OVMF_TABLE_FOOTER_GUID"))) {
    return fail(
      "not-tdvf",
      "OVMF_TABLE_FOOTER.guid",
      `no OVMF table footer GUID at image offset ${hex(footerAt + guid.offset)}`,
      footerAt + guid.offset,
    );
  }
  const footerSize = structSize(spec, "OVMF_TABLE_FOOTER");
  const tableLength = Number(readField(spec, image, footerAt, "OVMF_TABLE_FOOTER", "table_length"));
  const entriesLength = tableLength - footerSize;
  if (entriesLength < 0 || entriesLength > footerAt) {
    return fail(
      "truncated",
      "OVMF_TABLE_FOOTER.table_length",
      `table length ${tableLength} is below the footer's ${footerSize} bytes or larger than ` +
        `the ${footerAt} bytes before the footer`,
      footerAt,
    );
  }
  const tailLen = structSize(spec, "OVMF_TABLE_ENTRY");
  const entryGuid = fieldOf(spec, "OVMF_TABLE_ENTRY", "guid");
  const entries: OvmfTableEntry[] = [];
  let end = footerAt;
  let left = entriesLength;
  while (left >= tailLen) {
    const tail = end - tailLen;
    const length = Number(readField(spec, image, tail, "OVMF_TABLE_ENTRY", "entry_length"));
    if (length < tailLen || length > left) {
      return {
        ok: true,
        value: {
          footerOffset: footerAt,
          entries,
          corruptAt: { offset: tail, entryLength: length },
        },
      };
    }
    entries.push({
      guid: image.slice(tail + entryGuid.offset, tail + entryGuid.offset + entryGuid.size),
      offset: end - length,
      length,
    });
    end -= length;
    left -= length;
  }
  return { ok: true, value: { footerOffset: footerAt, entries } };
}

/** The first entry (walking from the footer) with the GUID `name` names in the spec. */
export function findOvmfEntry(
  spec: Spec,
  table: OvmfTable,
  name: string,
): OvmfTableEntry | undefined {
  const want = guidBytes(spec, name);
  return table.entries.find((e) => sameBytes(e.guid, want));
}
