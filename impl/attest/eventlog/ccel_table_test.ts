// The CCEL ACPI table: the real COS-113 table decodes to the values PROVENANCE.md
// records; every check the parser makes has a table that fails it.
import { strict as assert } from "node:assert";
import { theSpec } from "../../spec/mod.ts";
import { StructCodec } from "../../spec/codec.ts";
import { fieldOffset } from "../spec_facts.ts";
import { parseCcelTable } from "./ccel_table.ts";

const spec = theSpec();
const real = Deno.readFileSync(
  new URL("../../../fixtures/realdata/eventlogs/gotdx_cos113_ccel_table.dat", import.meta.url),
);

/** A copy of the real table with `edit` applied and the checksum fixed again. */
function variant(edit: (t: Uint8Array) => void, fixChecksum = true): Uint8Array {
  const t = real.slice();
  edit(t);
  if (fixChecksum) {
    const at = fieldOffset(spec, "CCEL_ACPI_TABLE", "checksum");
    t[at] = 0;
    t[at] = (256 - t.reduce((a, b) => (a + b) & 0xff, 0)) & 0xff;
  }
  return t;
}

Deno.test("the COS-113 CCEL table decodes to its recorded values", () => {
  const r = parseCcelTable(spec, real);
  assert.ok(r.ok);
  assert.equal(r.value.revision, 1);
  assert.equal(r.value.oemId, "INTEL ");
  assert.equal(r.value.oemTableId, "EDK2    ");
  assert.equal(r.value.ccTypeName, "TDX");
  assert.equal(r.value.laml, 0x40000n);
  assert.equal(r.value.lasa, 0xbedbf000n);
});

Deno.test("bad CCEL tables are refused with the field at fault", async (t) => {
  const codec = new StructCodec(spec);
  const decoded = codec.decode("CCEL_ACPI_TABLE", real).value;
  const cases: [string, Uint8Array, string, string][] = [
    ["short", real.subarray(0, 40), "truncated", "CCEL_ACPI_TABLE"],
    ["empty", new Uint8Array(0), "truncated", "CCEL_ACPI_TABLE"],
    ["long", new Uint8Array([...real, 0]), "invalid", "CCEL_ACPI_TABLE.length"],
    ["signature", variant((b) => b.set([0x58], 0)), "invalid", "CCEL_ACPI_TABLE.signature"],
    [
      "length field",
      variant((b) => b.set([0x39], fieldOffset(spec, "CCEL_ACPI_TABLE", "length"))),
      "invalid",
      "CCEL_ACPI_TABLE.length",
    ],
    [
      "revision",
      variant((b) => b.set([2], fieldOffset(spec, "CCEL_ACPI_TABLE", "revision"))),
      "invalid",
      "CCEL_ACPI_TABLE.revision",
    ],
    [
      "checksum",
      variant((b) => b.set([0x41], fieldOffset(spec, "CCEL_ACPI_TABLE", "oem_id")), false),
      "invalid",
      "CCEL_ACPI_TABLE.checksum",
    ],
    [
      "SEV table",
      variant((b) =>
        b.set(
          codec.encode("CCEL_ACPI_TABLE", {
            ...decoded,
            cc_type: Number(spec.enumValue("EFI_CC_TYPE", "SEV")),
          }),
        )
      ),
      "not-tdx",
      "CCEL_ACPI_TABLE.cc_type",
    ],
  ];
  for (const [name, bytes, kind, field] of cases) {
    await t.step(name, () => {
      const r = parseCcelTable(spec, bytes);
      assert.ok(!r.ok);
      assert.equal(r.error.kind, kind);
      assert.equal(r.error.field, field);
    });
  }
});
