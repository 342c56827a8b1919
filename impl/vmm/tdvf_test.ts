import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { parseTdvf, type TdvfFirmware } from "./tdvf.ts";
import type { FirmwareErrorKind } from "./firmware_error.ts";

const spec = theSpec();
const FW = new URL("../../fixtures/realdata/firmware/", import.meta.url);
const debian = Deno.readFileSync(new URL("OVMF-debian-2022.11-6+deb12u2.fd", FW));
const ubuntu = Deno.readFileSync(new URL("OVMF-ubuntu-2025.02-3ubuntu2.fd", FW));

function parsed(image: Uint8Array): TdvfFirmware {
  const r = parseTdvf(spec, image);
  if (!r.ok) throw new Error(`${r.error.field}: ${r.error.message}`);
  return r.value;
}

function summary(fw: TdvfFirmware) {
  return fw.sections.map((s) => [
    s.typeName,
    `0x${s.dataOffset.toString(16)}`,
    `0x${s.rawDataSize.toString(16)}`,
    `0x${s.memoryAddress.toString(16)}`,
    `0x${s.memoryDataSize.toString(16)}`,
    s.attributeNames.join("|"),
  ]);
}

Deno.test("Debian OVMF 2022.11: TDVF metadata with six sections", () => {
  const fw = parsed(debian);
  assert.equal(fw.metadataOffset, 0x840);
  assert.equal(fw.descriptorOffset, 0x1FF7C0);
  assert.equal(fw.version, 1);
  assert.deepEqual(summary(fw), [
    ["BFV", "0x20000", "0x1e0000", "0xffe20000", "0x1e0000", "MR_EXTEND"],
    ["CFV", "0x0", "0x20000", "0xffe00000", "0x20000", ""],
    ["TEMP_MEM", "0x0", "0x0", "0x810000", "0x10000", ""],
    ["TEMP_MEM", "0x0", "0x0", "0x80b000", "0x2000", ""],
    ["TD_HOB", "0x0", "0x0", "0x809000", "0x2000", ""],
    ["TEMP_MEM", "0x0", "0x0", "0x800000", "0x6000", ""],
  ]);
  assert.deepEqual(fw.sections.map((s) => s.measured), [true, false, false, false, false, false]);
  assert.deepEqual(fw.sections.map((s) => s.type), [0, 1, 3, 3, 2, 3]);
});

Deno.test("Ubuntu OVMF 2025.02: TDVF metadata with six sections", () => {
  const fw = parsed(ubuntu);
  assert.equal(fw.metadataOffset, 0x9C0);
  assert.equal(fw.descriptorOffset, ubuntu.length - 0x9C0);
  assert.deepEqual(summary(fw), [
    ["BFV", "0x84000", "0x37c000", "0xffc84000", "0x37c000", "MR_EXTEND"],
    ["CFV", "0x0", "0x84000", "0xffc00000", "0x84000", ""],
    ["TEMP_MEM", "0x0", "0x0", "0x811000", "0xf000", ""],
    ["TEMP_MEM", "0x0", "0x0", "0x80b000", "0x2000", ""],
    ["TD_HOB", "0x0", "0x0", "0x809000", "0x2000", ""],
    ["TEMP_MEM", "0x0", "0x0", "0x800000", "0x6000", ""],
  ]);
});

// Corruptions of the Debian image, each provoking one parse error.
const D = 0x1FF7C0; // descriptor offset in the Debian image (asserted above)
const SEC = (i: number, off: number) => D + 16 + 32 * i + off;
const FOOTER = debian.length - 50;
// The TDX entry is the fifth walked from the footer (after SEV-ES reset, SEV secret, SEV
// hash and SEV metadata entries), 118 bytes below the footer.
const META_ENTRY = FOOTER - 118;

function put(image: Uint8Array, at: number, size: number, value: bigint): void {
  for (let i = 0; i < size; i++) image[at + i] = Number((value >> BigInt(8 * i)) & 0xFFn);
}

interface Case {
  name: string;
  edit: (img: Uint8Array) => Uint8Array;
  kind: FirmwareErrorKind;
  field: string;
}

const patch = (at: number, size: number, v: bigint) => (img: Uint8Array) => {
  put(img, at, size, v);
  return img;
};

const cases: Case[] = [
  {
    name: "image shorter than a page",
    edit: (img) => img.slice(0, 100),
    kind: "not-tdvf",
    field: "image",
  },
  {
    name: "no OVMF footer GUID (e.g. a SeaBIOS image)",
    edit: patch(FOOTER + 2, 1, 0x00n),
    kind: "not-tdvf",
    field: "OVMF_TABLE_FOOTER.guid",
  },
  {
    name: "table length larger than the bytes before the footer",
    edit: (img) => {
      const tail = img.slice(img.length - 4096);
      put(tail, tail.length - 50, 2, 0xFFFFn);
      return tail;
    },
    kind: "truncated",
    field: "OVMF_TABLE_FOOTER.table_length",
  },
  {
    name: "table length below the footer size",
    edit: patch(FOOTER, 2, 5n),
    kind: "truncated",
    field: "OVMF_TABLE_FOOTER.table_length",
  },
  {
    name: "table without the TDX metadata offset entry",
    edit: patch(META_ENTRY + 6, 1, 0x00n),
    kind: "not-tdvf",
    field: "TDX_METADATA_OFFSET_ENTRY.guid",
  },
  {
    name: "corrupt entry length stops the walk",
    edit: patch(META_ENTRY + 4, 2, 3n),
    kind: "not-tdvf",
    field: "OVMF_TABLE_ENTRY.entry_length",
  },
  {
    name: "TDX metadata offset entry of the wrong length",
    edit: patch(META_ENTRY + 4, 2, 20n),
    kind: "invalid",
    field: "TDX_METADATA_OFFSET_ENTRY.entry_length",
  },
  {
    name: "metadata offset beyond the image",
    edit: patch(META_ENTRY, 4, 0x300000n),
    kind: "truncated",
    field: "TDX_METADATA_OFFSET_ENTRY.metadata_offset",
  },
  {
    name: "metadata offset leaving no room for the descriptor",
    edit: patch(META_ENTRY, 4, 8n),
    kind: "truncated",
    field: "TDX_METADATA_OFFSET_ENTRY.metadata_offset",
  },
  {
    name: "bad descriptor signature",
    edit: patch(D, 4, 0x46564455n),
    kind: "not-tdvf",
    field: "TDVF_DESCRIPTOR.signature",
  },
  {
    name: "descriptor length past the end of the image",
    edit: patch(D + 4, 4, 0x10000n),
    kind: "truncated",
    field: "TDVF_DESCRIPTOR.length",
  },
  {
    name: "unsupported metadata version",
    edit: patch(D + 8, 4, 2n),
    kind: "invalid",
    field: "TDVF_DESCRIPTOR.version",
  },
  {
    name: "fewer than two sections",
    edit: patch(D + 12, 4, 1n),
    kind: "invalid",
    field: "TDVF_DESCRIPTOR.number_of_section_entries",
  },
  {
    name: "length disagreeing with the section count",
    edit: patch(D + 12, 4, 5n),
    kind: "invalid",
    field: "TDVF_DESCRIPTOR.length",
  },
  {
    name: "memory size below raw data size",
    edit: patch(SEC(0, 16), 8, 0x1000n),
    kind: "invalid",
    field: "TDVF_SECTION[0].memory_data_size",
  },
  {
    name: "unaligned memory address",
    edit: patch(SEC(2, 8), 8, 0x810800n),
    kind: "invalid",
    field: "TDVF_SECTION[2].memory_address",
  },
  {
    name: "unaligned memory size",
    edit: patch(SEC(3, 16), 8, 0x2100n),
    kind: "invalid",
    field: "TDVF_SECTION[3].memory_data_size",
  },
  {
    name: "CFV without image data",
    edit: patch(SEC(1, 4), 4, 0n),
    kind: "invalid",
    field: "TDVF_SECTION[1].raw_data_size",
  },
  {
    name: "TEMP_MEM with image data",
    edit: patch(SEC(2, 4), 4, 0x1000n),
    kind: "invalid",
    field: "TDVF_SECTION[2].raw_data_size",
  },
  {
    name: "section type upstream QEMU rejects (PERM_MEM)",
    edit: patch(SEC(5, 24), 4, 4n),
    kind: "bad-section-type",
    field: "TDVF_SECTION[5].type",
  },
  {
    name: "section type outside the enum",
    edit: patch(SEC(3, 24), 4, 0x77n),
    kind: "bad-section-type",
    field: "TDVF_SECTION[3].type",
  },
  {
    name: "section data past the end of the image",
    edit: patch(SEC(0, 0), 4, 0x1F0000n),
    kind: "truncated",
    field: "TDVF_SECTION[0].data_offset",
  },
  {
    name: "overlapping sections",
    edit: patch(SEC(3, 8), 8, 0x80A000n),
    kind: "overlap",
    field: "TDVF_SECTION[4].memory_address",
  },
  {
    name: "no TD_HOB section",
    edit: patch(SEC(4, 24), 4, 3n),
    kind: "missing-section",
    field: "TDVF_DESCRIPTOR.sections",
  },
];

for (const c of cases) {
  Deno.test(`TDVF parse error: ${c.name}`, () => {
    const r = parseTdvf(spec, c.edit(debian.slice()));
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error.kind, c.kind, r.error.message);
    assert.equal(r.error.field, c.field, r.error.message);
    assert.ok(r.error.message.length > 10);
  });
}
