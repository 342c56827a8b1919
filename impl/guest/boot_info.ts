// What the firmware hands the guest kernel: the TD HOB list the VMM built (its
// address arrives in RCX at reset). The kernel takes its memory map from the
// resource descriptors: memory the VMM already added is usable at once, the rest
// must be accepted first.
import type { Spec } from "../spec/mod.ts";
import { StructCodec } from "../spec/codec.ts";
import type { GuestMemory, MemoryRange } from "./guest_memory.ts";

export interface BootInfo {
  /** RAM the VMM added before the TD started (resource type SYSTEM_MEMORY). */
  added: MemoryRange[];
  /** RAM still to be accepted (MEMORY_UNACCEPTED). */
  unaccepted: MemoryRange[];
  /** EFI_HOB_HANDOFF_INFO_TABLE.efi_end_of_hob_list. */
  endOfHobList: bigint;
}

export function readBootInfo(spec: Spec, memory: GuestMemory, hobAddress: bigint): BootInfo {
  const codec = new StructCodec(spec);
  const headerSize = spec.struct("EFI_HOB_GENERIC_HEADER").size as number;
  const type = (name: string) => Number(spec.enumValue("EFI_HOB_TYPE", name));
  const resource = (name: string) => Number(spec.enumValue("EFI_RESOURCE_TYPE", name));
  const phitSize = spec.struct("EFI_HOB_HANDOFF_INFO_TABLE").size as number;
  const phit = codec.decode("EFI_HOB_HANDOFF_INFO_TABLE", memory.read(hobAddress, phitSize)).value;
  if ((phit.header as Record<string, number>).hob_type !== type("HANDOFF")) {
    throw new Error(`no handoff table at the TD HOB address 0x${hobAddress.toString(16)}`);
  }
  const endOfHobList = phit.efi_end_of_hob_list as bigint;
  const info: BootInfo = { added: [], unaccepted: [], endOfHobList };
  let at = hobAddress;
  while (at < endOfHobList) {
    const header = codec.decode("EFI_HOB_GENERIC_HEADER", memory.read(at, headerSize)).value;
    const hobType = header.hob_type as number;
    const hobLength = header.hob_length as number;
    if (hobType === type("END_OF_HOB_LIST")) break;
    if (hobLength < headerSize) {
      throw new Error(`HOB at 0x${at.toString(16)} has length ${hobLength}`);
    }
    if (hobType === type("RESOURCE_DESCRIPTOR")) {
      const d = codec.decode("EFI_HOB_RESOURCE_DESCRIPTOR", memory.read(at, hobLength)).value;
      const range = { address: d.physical_start as bigint, length: d.resource_length as bigint };
      if (d.resource_type === resource("SYSTEM_MEMORY")) info.added.push(range);
      else if (d.resource_type === resource("MEMORY_UNACCEPTED")) info.unaccepted.push(range);
    }
    // HOBs start 8-byte aligned.
    at += BigInt(Math.ceil(hobLength / 8) * 8);
  }
  return info;
}
