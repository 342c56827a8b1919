// The TD HOB list the launcher writes into the TDVF TD_HOB section, laid out as
// QEMU's tdvf-hob.c does: a phase handoff table, one resource descriptor per RAM
// range (unaccepted memory, or system memory the VMM already added), and an
// end-of-list header, each 8-byte aligned. The handoff table's end-of-list address
// is the guest address just past that last header.
import type { Spec } from "../spec/mod.ts";
import { type DecodedStruct, StructCodec } from "../spec/codec.ts";
import { encodeBits } from "../spec/bits.ts";
import { hex } from "./firmware_error.ts";
import type { RamEntry } from "./ram_layout.ts";

const HOB_ALIGNMENT = 8;

export type HobResult = { ok: true; bytes: Uint8Array } | { ok: false; message: string };

export function buildTdHob(
  spec: Spec,
  hobAddress: bigint,
  hobSize: number,
  ram: readonly RamEntry[],
): HobResult {
  const codec = new StructCodec(spec);
  const hobType = (name: string) => Number(spec.enumValue("EFI_HOB_TYPE", name));
  const header = (type: string, struct: string): DecodedStruct => ({
    hob_type: hobType(type),
    hob_length: spec.struct(struct).size as number,
  });
  // QEMU marks both kinds of RAM present, initialized and tested.
  const ramAttributes = Number(
    encodeBits(spec.bitfield("EFI_RESOURCE_ATTRIBUTE").fields, {
      PRESENT: 1n,
      INITIALIZED: 1n,
      TESTED: 1n,
    }),
  );
  const parts: Uint8Array[] = [];
  const handoff: DecodedStruct = {
    header: header("HANDOFF", "EFI_HOB_HANDOFF_INFO_TABLE"),
    boot_mode: 0,
    efi_memory_top: 0n,
    efi_memory_bottom: 0n,
    efi_free_memory_top: 0n,
    efi_free_memory_bottom: 0n,
    efi_end_of_hob_list: 0n,
  };
  parts.push(codec.encode("EFI_HOB_HANDOFF_INFO_TABLE", handoff));
  for (const e of ram) {
    parts.push(codec.encode("EFI_HOB_RESOURCE_DESCRIPTOR", {
      header: header("RESOURCE_DESCRIPTOR", "EFI_HOB_RESOURCE_DESCRIPTOR"),
      owner: { data1: 0, data2: 0, data3: 0, data4: new Uint8Array(8) },
      resource_type: Number(
        spec.enumValue("EFI_RESOURCE_TYPE", e.added ? "SYSTEM_MEMORY" : "MEMORY_UNACCEPTED"),
      ),
      resource_attribute: ramAttributes,
      physical_start: e.address,
      resource_length: e.length,
    }));
  }
  parts.push(codec.encode("EFI_HOB_GENERIC_HEADER", {
    hob_type: hobType("END_OF_HOB_LIST"),
    hob_length: spec.struct("EFI_HOB_GENERIC_HEADER").size as number,
  }));
  const out = new Uint8Array(hobSize);
  let at = 0;
  for (const p of parts) {
    if (at + p.length > hobSize) {
      return {
        ok: false,
        message: `the TD HOB (${parts.length} HOBs) overruns the ${
          hex(hobSize)
        }-byte TD_HOB section`,
      };
    }
    out.set(p, at);
    at = Math.ceil((at + p.length) / HOB_ALIGNMENT) * HOB_ALIGNMENT;
  }
  // Now that the list is placed, point the handoff table past its end.
  handoff.efi_end_of_hob_list = hobAddress + BigInt(at);
  out.set(codec.encode("EFI_HOB_HANDOFF_INFO_TABLE", handoff), 0);
  return { ok: true, bytes: out };
}
