// Test support for TDH.IMPORT.MEM: a memory bundle sealed by hand under a session key, as
// a source's TDH.EXPORT.MEM would send it (MBMD MAC'ed with MIGS_INDEX and IV_COUNTER 0,
// each entry its own GCM message under the next IV with the entry as AAD), written to
// shared memory with its GPA list, migration buffers, MAC lists and new-page list.
import { encodeBits } from "../../spec/bits.ts";
import { StructCodec } from "../../spec/codec.ts";
import type { Platform } from "../testing/fixture.ts";
import type { Inputs } from "../testing/td_status_table.ts";
import { bundleIv, GcmStream } from "./bundle_crypto.ts";
import { decodeMbmd, encodeMbmd, macedBytes, withIvCounter, withMac } from "./mbmd.ts";
import { mbmdOperand } from "./migration_fixture.ts";

export interface MemEntry {
  gpa: bigint;
  /** GPA_LIST_ENTRY_OPERATION name (default MIGRATE). */
  operation?: string;
  pending?: boolean;
  /** The page's plaintext (default: 4 KiB of `fill`). */
  fill?: number;
  /** Other GPA_LIST_ENTRY fields (e.g. a reserved bit). */
  raw?: Record<string, bigint>;
}

export interface MemBundleOptions {
  stream?: number;
  mbCounter?: number;
  epoch?: number;
  /** IV_COUNTER of the MBMD; entry i uses the next ones. */
  iv?: bigint;
  /** Import into fresh pages (a new-page list) rather than in place. */
  newPages?: boolean;
  header?: Record<string, number | bigint>;
  numGpas?: number;
}

export interface MemBundle {
  inputs: Inputs;
  listPa: bigint;
  buffList: bigint;
  buffers: bigint[];
  macLists: [bigint, bigint];
  newPageList?: bigint;
  newPages: bigint[];
  mbmdPa: bigint;
}

export function sealedMemBundle(
  p: Platform,
  tdr: bigint,
  key: Uint8Array,
  entries: MemEntry[],
  o: MemBundleOptions = {},
): MemBundle {
  const spec = p.spec;
  const mem = p.cpu.memory;
  const stream = o.stream ?? 0;
  const iv = o.iv ?? 100n;
  const layout = spec.bitfield("GPA_LIST_ENTRY").fields;
  const u64s = (pa: bigint, values: bigint[]) => {
    const b = new Uint8Array(8 * values.length);
    const v = new DataView(b.buffer);
    values.forEach((x, i) => v.setBigUint64(8 * i, x, true));
    mem.write(pa, b);
  };
  const raw = entries.map((e) =>
    encodeBits(layout, {
      gpa: e.gpa >> 12n,
      operation: spec.enumValue("GPA_LIST_ENTRY_OPERATION", e.operation ?? "MIGRATE"),
      pending: e.pending ? 1n : 0n,
      ...e.raw,
    })
  );
  const listPa = p.allocPage();
  u64s(listPa, raw);
  const buffers = entries.map(() => p.allocPage());
  const buffList = p.allocPage();
  u64s(buffList, buffers);
  const macLists: [bigint, bigint] = [p.allocPage(), p.allocPage()];
  const newPages = o.newPages ? entries.map(() => p.allocPage()) : [];
  let newPageList: bigint | undefined;
  if (o.newPages) {
    newPageList = p.allocPage();
    u64s(newPageList, newPages);
  }

  let mbmd = encodeMbmd(spec, "MBMD_MEM", {
    mig_version: 0,
    migs_index: 0,
    mb_type: Number(spec.enumValue("MB_TYPE", "MEM")),
    mb_counter: o.mbCounter ?? 1,
    mig_epoch: o.epoch ?? 0,
    iv_counter: 0n,
  }, { num_gpas: o.numGpas ?? entries.length });
  if (o.header) {
    const codec = new StructCodec(spec);
    const h = decodeMbmd(spec, "MBMD_HEADER", mbmd);
    mbmd.set(codec.encode("MBMD_HEADER", { ...h, ...o.header }), 0);
  }
  const g = new GcmStream(key, bundleIv(spec, iv, stream), "encrypt");
  g.aad(macedBytes(spec, mbmd));
  mbmd = withIvCounter(spec, withMac(spec, mbmd, g.mac()), iv);
  // MIGS_INDEX is not MAC'ed: written after.
  const codec = new StructCodec(spec);
  const h = decodeMbmd(spec, "MBMD_HEADER", mbmd);
  mbmd.set(codec.encode("MBMD_HEADER", { ...h, migs_index: stream }), 0);
  const buf = mbmdOperand(p);
  mem.write(buf.pa, mbmd);

  entries.forEach((e, i) => {
    const gcm = new GcmStream(key, bundleIv(spec, iv + 1n + BigInt(i), stream), "encrypt");
    const aad = new Uint8Array(8);
    new DataView(aad.buffer).setBigUint64(0, raw[i], true);
    gcm.aad(aad);
    const op = e.operation ?? "MIGRATE";
    if (op !== "CANCEL" && op !== "NOP" && !e.pending) {
      mem.write(buffers[i], gcm.update(new Uint8Array(4096).fill(e.fill ?? i + 1)));
    }
    mem.write(macLists[i >> 8] + BigInt(16 * (i & 0xFF)), gcm.mac());
  });

  return {
    inputs: {
      gpa_list_info: encodeBits(spec.bitfield("GPA_LIST_INFO").fields, {
        hpa: listPa >> 12n,
        first_entry: 0n,
        last_entry: BigInt(entries.length - 1),
      }),
      tdr_pa: tdr,
      mbmd_hpa_and_size: buf.operand,
      mig_buff_list_pa: buffList,
      migs_index_and_cmd: BigInt(stream),
      mac_list_0_pa: macLists[0],
      mac_list_1_pa: macLists[1],
      new_page_list_pa: newPageList ?? 0xFFFF_FFFF_FFFF_FFFFn,
    },
    listPa,
    buffList,
    buffers,
    macLists,
    newPageList,
    newPages,
    mbmdPa: buf.pa,
  };
}
