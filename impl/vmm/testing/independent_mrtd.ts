// Test support: MRTD computed straight from the spec's record layouts with
// @noble/hashes, sharing no code with the module or KVM, to cross-check the value the
// whole stack (launcher, KVM, module) produces. Pages are measured in the order
// KVM_TDX_INIT_MEM_REGION adds them: section by section in metadata order, page by
// page, each TDH.MEM.PAGE.ADD followed (for MR_EXTEND sections) by its 16 chunks.
import { sha384 } from "@noble/hashes/sha2.js";
import type { Spec } from "../../spec/mod.ts";

export interface SectionForMrtd {
  dataOffset: number;
  rawDataSize: number;
  memoryAddress: bigint;
  memoryDataSize: bigint;
  measured: boolean;
}

function record(spec: Spec, name: string, gpa: bigint): Uint8Array {
  const s = spec.struct(name);
  const header = new Uint8Array(128);
  const view = new DataView(header.buffer);
  for (const f of s.fields) {
    if (f.offset! >= 128) continue;
    if (f.value !== undefined) view.setBigUint64(f.offset!, BigInt(f.value), true);
    if (f.name === "gpa") view.setBigUint64(f.offset!, gpa, true);
  }
  return header;
}

export function independentMrtd(
  spec: Spec,
  image: Uint8Array,
  sections: readonly SectionForMrtd[],
): Uint8Array {
  const chunk = spec.struct("MR_EXTEND_RECORD").fields.find((f) => f.name === "chunk")!.size!;
  const h = sha384.create();
  for (const s of sections) {
    const pages = Number(s.memoryDataSize / 4096n);
    for (let i = 0; i < pages; i++) {
      const gpa = s.memoryAddress + BigInt(i * 4096);
      h.update(record(spec, "MEM_PAGE_ADD_RECORD", gpa));
      if (!s.measured) continue;
      const page = new Uint8Array(4096);
      const from = i * 4096;
      if (from < s.rawDataSize) {
        page.set(
          image.subarray(s.dataOffset + from, s.dataOffset + Math.min(from + 4096, s.rawDataSize)),
        );
      }
      for (let off = 0; off < 4096; off += chunk) {
        h.update(record(spec, "MR_EXTEND_RECORD", gpa + BigInt(off)));
        h.update(page.subarray(off, off + chunk));
      }
    }
  }
  return h.digest();
}
