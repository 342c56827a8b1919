import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { StructCodec } from "../spec/codec.ts";
import { parseTdvf } from "./tdvf.ts";
import { tdRamMap } from "./ram_layout.ts";
import { buildTdHob } from "./td_hob.ts";

const spec = theSpec();
const codec = new StructCodec(spec);
const image = Deno.readFileSync(
  new URL("../../fixtures/realdata/firmware/OVMF-debian-2022.11-6+deb12u2.fd", import.meta.url),
);
const fw = (() => {
  const r = parseTdvf(spec, image);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
})();
const hobSection = fw.sections.find((s) => s.typeName === "TD_HOB")!;

Deno.test("TD RAM map: TEMP_MEM and TD_HOB added, the rest unaccepted, sorted", () => {
  const m = tdRamMap(fw.sections, 2n << 30n);
  assert.ok(m.ok);
  if (!m.ok) return;
  const view = m.entries.map((e) => [e.address.toString(16), e.length.toString(16), e.added]);
  assert.deepEqual(view, [
    ["0", "800000", false],
    ["800000", "6000", true],
    ["806000", "3000", false],
    ["809000", "2000", true],
    ["80b000", "2000", true],
    ["80d000", "3000", false],
    ["810000", "10000", true],
    ["820000", "7f7e0000", false],
  ]);
});

Deno.test("TD RAM map: RAM above 2 GiB continues at 4 GiB", () => {
  const m = tdRamMap(fw.sections, 3n << 30n);
  assert.ok(m.ok);
  if (!m.ok) return;
  const last = m.entries[m.entries.length - 1];
  assert.equal(last.address, 4n << 30n);
  assert.equal(last.length, 1n << 30n);
});

Deno.test("TD RAM map: a section outside RAM is an error naming it", () => {
  const m = tdRamMap(fw.sections, 4n << 20n); // 4 MiB: TEMP_MEM at 8 MiB is outside
  assert.equal(m.ok, false);
  if (m.ok) return;
  assert.equal(m.section, 2);
  assert.match(m.message, /not inside one RAM range/);
});

Deno.test("TD HOB: handoff table, one resource descriptor per RAM range, end of list", () => {
  const m = tdRamMap(fw.sections, 2n << 30n);
  assert.ok(m.ok);
  if (!m.ok) return;
  const hob = buildTdHob(
    spec,
    hobSection.memoryAddress,
    Number(hobSection.memoryDataSize),
    m.entries,
  );
  assert.ok(hob.ok);
  if (!hob.ok) return;
  const bytes = hob.bytes;
  assert.equal(bytes.length, 0x2000);
  const phit = codec.decode("EFI_HOB_HANDOFF_INFO_TABLE", bytes).value;
  assert.deepEqual(phit.header, { hob_type: 1, hob_length: 56, reserved: new Uint8Array(4) });
  assert.equal(phit.version, 9);
  assert.equal(phit.boot_mode, 0);
  const endHeaderAt = 56 + 48 * m.entries.length;
  // QEMU points past the end-of-list header.
  assert.equal(phit.efi_end_of_hob_list, hobSection.memoryAddress + BigInt(endHeaderAt + 8));
  for (const [i, e] of m.entries.entries()) {
    const d = codec.decode("EFI_HOB_RESOURCE_DESCRIPTOR", bytes.subarray(56 + 48 * i)).value;
    assert.deepEqual(d.header, { hob_type: 3, hob_length: 48, reserved: new Uint8Array(4) });
    assert.equal(d.resource_type, e.added ? 0 : 7);
    assert.equal(d.resource_attribute, 0x7);
    assert.equal(d.physical_start, e.address);
    assert.equal(d.resource_length, e.length);
  }
  const end = codec.decode("EFI_HOB_GENERIC_HEADER", bytes.subarray(endHeaderAt)).value;
  assert.equal(end.hob_type, 0xFFFF);
  assert.equal(end.hob_length, 8);
  assert.ok(bytes.subarray(endHeaderAt + 8).every((b) => b === 0));
});

Deno.test("TD HOB: a list that does not fit the TD_HOB section is an error", () => {
  const m = tdRamMap(fw.sections, 2n << 30n);
  assert.ok(m.ok);
  if (!m.ok) return;
  const hob = buildTdHob(spec, hobSection.memoryAddress, 200, m.entries);
  assert.equal(hob.ok, false);
  if (!hob.ok) assert.match(hob.message, /overruns/);
});
