// The ACPI CCEL table a TD's firmware publishes: it says which confidential-computing
// technology wrote the event log and where the log area lies (LASA) and how big it is
// (LAML). Checked the way an ACPI consumer checks a table: signature, length, revision
// (fixed values in the spec's layout), then the byte checksum, then the CC type.
import type { Spec } from "../../spec/mod.ts";
import { StructCodec } from "../../spec/codec.ts";
import { decoding, fail, hex, type Result } from "../attest_error.ts";
import { enumName, enumNumber, fieldOffset, structSize } from "../spec_facts.ts";

export interface CcelTable {
  revision: number;
  oemId: string;
  oemTableId: string;
  oemRevision: number;
  creatorId: number;
  creatorRevision: number;
  ccType: number;
  /** The EFI_CC_TYPE name of ccType, when the spec knows it. */
  ccTypeName?: string;
  ccSubtype: number;
  /** Log area minimum length: bytes reserved for the event log. */
  laml: bigint;
  /** Log area start address: guest physical address of the event log. */
  lasa: bigint;
}

export function parseCcelTable(spec: Spec, bytes: Uint8Array): Result<CcelTable> {
  const size = structSize(spec, "CCEL_ACPI_TABLE");
  const decoded = decoding(0, () => new StructCodec(spec).decode("CCEL_ACPI_TABLE", bytes).value);
  if (!decoded.ok) return decoded;
  const t = decoded.value;
  if (bytes.length !== size) {
    return fail(
      "invalid",
      "CCEL_ACPI_TABLE.length",
      `the table file has ${bytes.length} bytes; a CCEL table has ${size}`,
    );
  }
  // ACPI: every byte of the table, the checksum included, sums to zero modulo 256.
  const sum = bytes.reduce((a, b) => (a + b) & 0xff, 0);
  if (sum !== 0) {
    return fail(
      "invalid",
      "CCEL_ACPI_TABLE.checksum",
      `the table's bytes sum to ${hex(sum)} modulo 256, not 0 (checksum byte ${
        hex(t.checksum as number)
      })`,
      fieldOffset(spec, "CCEL_ACPI_TABLE", "checksum"),
    );
  }
  const ccType = t.cc_type as number;
  const ccTypeName = enumName(spec, "EFI_CC_TYPE", ccType);
  if (ccType !== enumNumber(spec, "EFI_CC_TYPE", "TDX")) {
    return fail(
      "not-tdx",
      "CCEL_ACPI_TABLE.cc_type",
      `the table names CC type ${ccType} (${ccTypeName ?? "unknown"}), not TDX`,
    );
  }
  return {
    ok: true,
    value: {
      revision: t.revision as number,
      oemId: t.oem_id as string,
      oemTableId: t.oem_table_id as string,
      oemRevision: t.oem_revision as number,
      creatorId: t.creator_id as number,
      creatorRevision: t.creator_revision as number,
      ccType,
      ccTypeName,
      ccSubtype: t.cc_subtype as number,
      laml: t.laml as bigint,
      lasa: t.lasa as bigint,
    },
  };
}
