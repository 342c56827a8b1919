// Test support for the page-migration leaves: the operands of a TDH.EXPORT.MEM (GPA list,
// migration buffers, MAC lists, MBMD), and the flows that bring pages into the export
// states by real calls (write-block, TLB track, export, abort).
import type { CallResult, Platform } from "../testing/fixture.ts";
import type { Inputs } from "../testing/td_status_table.ts";
import type { CreatedTd } from "../testing/td_fixture.ts";
import { gpaList, liveExportWithPages, mbmdOperand } from "./migration_fixture.ts";

export interface MemExport {
  list: { pa: bigint; info: bigint };
  buffers: bigint[];
  buffList: bigint;
  macLists: [bigint, bigint];
  mbmd: { pa: bigint; operand: bigint };
  inputs: Inputs;
}

function ok(name: string, r: CallResult): CallResult {
  if (r.name !== "TDX_SUCCESS") {
    throw new Error(`${name} failed: ${r.name} ${r.operand ?? ""} 0x${r.detail.toString(16)}`);
  }
  return r;
}

/** TDH.EXPORT.MEM operands (new command on forward stream `stream`) for `gpas`. */
export function memExportInputs(
  p: Platform,
  tdr: bigint,
  gpas: bigint[],
  operation = "MIGRATE",
  stream = 0,
): MemExport {
  const list = gpaList(p, gpas, operation);
  const buffList = p.allocPage();
  const buffers = gpas.map(() => p.allocPage());
  const bytes = new Uint8Array(8 * gpas.length);
  const v = new DataView(bytes.buffer);
  buffers.forEach((pa, i) => v.setBigUint64(8 * i, pa, true));
  p.cpu.memory.write(buffList, bytes);
  const macLists: [bigint, bigint] = [p.allocPage(), p.allocPage()];
  const mbmd = mbmdOperand(p);
  return {
    list,
    buffers,
    buffList,
    macLists,
    mbmd,
    inputs: {
      gpa_list_info: list.info,
      tdr_pa: tdr,
      mbmd_hpa_and_size: mbmd.operand,
      mig_buff_list_pa: buffList,
      migs_index_and_cmd: BigInt(stream),
      mac_list_0_pa: macLists[0],
      mac_list_1_pa: macLists[1],
    },
  };
}

/** TDH.EXPORT.BLOCKW of `gpas`, then TDH.MEM.TRACK: the pages may be exported live. */
export function blockAndTrack(p: Platform, tdr: bigint, gpas: bigint[]): void {
  const l = gpaList(p, gpas);
  ok("TDH.EXPORT.BLOCKW", p.seamcall("TDH.EXPORT.BLOCKW", { gpa_list_info: l.info, tdr_pa: tdr }));
  ok("TDH.MEM.TRACK", p.seamcall("TDH.MEM.TRACK", { tdr_pa: tdr }));
}

/** A TD in LIVE_EXPORT whose first `n` EXPORT_GPAS pages are blocked, tracked and exported. */
export function exportedLive(p: Platform, td: CreatedTd, gpas: bigint[]): MemExport {
  liveExportWithPages(p, td);
  blockAndTrack(p, td.tdr, gpas);
  const ex = memExportInputs(p, td.tdr, gpas);
  ok("TDH.EXPORT.MEM", p.seamcall("TDH.EXPORT.MEM", ex.inputs));
  return ex;
}

/** As exportedLive, then TDH.EXPORT.ABORT: the TD runs again with exported pages. */
export function abortedWithExportedPages(p: Platform, td: CreatedTd, gpas: bigint[]): MemExport {
  const ex = exportedLive(p, td, gpas);
  ok(
    "TDH.EXPORT.ABORT",
    p.seamcall("TDH.EXPORT.ABORT", { tdr_pa: td.tdr, mbmd_hpa_and_size: 0n, migs_index: 0n }),
  );
  return ex;
}
