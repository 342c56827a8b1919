// Test support for the migration leaves: a migratable TD with streams, shared buffers
// for MBMDs and page lists, and the Migration TD's key hand-over between a source and a
// destination TD (in place of TDG.SERVTD.RD/WR by bound Migration TDs).
import { encodeBits } from "../../spec/bits.ts";
import type { Spec } from "../../spec/mod.ts";
import type { CallResult, Platform } from "../testing/fixture.ts";
import type { Inputs } from "../testing/td_status_table.ts";
import type { CreatedTd, CreateTdOptions } from "../testing/td_fixture.ts";
import { addPage, createTd, createVcpu, finalizeTd } from "../testing/td_fixture.ts";
import { installMigDecKey, readMigEncKey } from "./keys.ts";
import { migLimit } from "./limits.ts";
import { bundleIv, GcmStream } from "./bundle_crypto.ts";
import { encodeMbmd, macedBytes, type MbmdHeader, withIvCounter, withMac } from "./mbmd.ts";

export function migratableAttributes(spec: Spec): bigint {
  return encodeBits(spec.bitfield("TD_ATTRIBUTES").fields, { MIGRATABLE: 1n });
}

export function migratableTd(p: Platform, o: CreateTdOptions = {}): CreatedTd {
  return createTd(p, { attributes: migratableAttributes(p.spec), ...o });
}

/** A migratable TD with one vCPU, finalized (RUNNABLE), and `streams` migration streams. */
export function runnableMigratableTd(p: Platform, streams = 2): CreatedTd {
  const td = migratableTd(p);
  createVcpu(p, td);
  finalizeTd(p, td);
  addStreams(p, td.tdr, streams);
  return td;
}

function ok(name: string, r: CallResult): CallResult {
  if (r.name !== "TDX_SUCCESS") {
    throw new Error(`${name} failed: ${r.name} ${r.operand ?? ""} 0x${r.detail.toString(16)}`);
  }
  return r;
}

export function addStreams(p: Platform, tdr: bigint, n = 2): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const pa = p.allocPage();
    ok("TDH.MIG.STREAM.CREATE", p.seamcall("TDH.MIG.STREAM.CREATE", { migsc_pa: pa, tdr_pa: tdr }));
    out.push(pa);
  }
  return out;
}

/** MBMD_HPA_AND_SIZE of a fresh 128-byte-aligned shared buffer. */
export function mbmdOperand(p: Platform, size = 0x80n): { pa: bigint; operand: bigint } {
  const pa = p.allocRange(0x1000n, migLimit(p.spec, "MBMD_ALIGN"));
  return { pa, operand: pa | (size << 52n) };
}

/** A page list of `n` fresh shared pages; PAGE_LIST_INFO with LAST_ENTRY n - 1. */
export function pageList(
  p: Platform,
  n: number,
): { listPa: bigint; pages: bigint[]; info: bigint } {
  const listPa = p.allocPage();
  const pages = Array.from({ length: n }, () => p.allocPage());
  const bytes = new Uint8Array(8 * n);
  const v = new DataView(bytes.buffer);
  pages.forEach((pa, i) => v.setBigUint64(8 * i, pa, true));
  p.cpu.memory.write(listPa, bytes);
  return { listPa, pages, info: listPa | (BigInt(n - 1) << 55n) };
}

/** The Migration TDs agree on a key: the source's MIG_ENC_KEY becomes the destination's MIG_DEC_KEY, and back. */
export function handOverKeys(p: Platform, source: bigint, destination: bigint): void {
  const st = p.module.state.tds.get(source)!;
  const dt = p.module.state.tds.get(destination)!;
  installMigDecKey(p.spec, dt, readMigEncKey(p.cpu, p.spec, st));
  installMigDecKey(p.spec, st, readMigEncKey(p.cpu, p.spec, dt));
}

export interface ImmutableExport {
  mbmd: { pa: bigint; operand: bigint };
  list: { listPa: bigint; pages: bigint[]; info: bigint };
  inputs: Inputs;
}

/** Operands of a TDH.EXPORT.STATE.IMMUTABLE (new command, stream 0) with `pages` buffers. */
export function immutableExportInputs(p: Platform, tdr: bigint, pages = 8): ImmutableExport {
  const mbmd = mbmdOperand(p);
  const list = pageList(p, pages);
  return {
    mbmd,
    list,
    inputs: {
      tdr_pa: tdr,
      mbmd_hpa_and_size: mbmd.operand,
      page_list_info: list.info,
      migs_index_and_cmd: 0n,
    },
  };
}

/** The resume command for stream 0. */
export function resumeCommand(spec: Spec): bigint {
  return migLimit(spec, "MIGS_COMMAND_RESUME") << 63n;
}

/** A source TD in LIVE_EXPORT: keys handed over with `peer`, immutable state exported. */
export function startExport(
  p: Platform,
  tdr: bigint,
  peer: bigint,
): ImmutableExport & { pages: number } {
  handOverKeys(p, tdr, peer);
  const ex = immutableExportInputs(p, tdr);
  const r = ok("TDH.EXPORT.STATE.IMMUTABLE", p.seamcall("TDH.EXPORT.STATE.IMMUTABLE", ex.inputs));
  return { ...ex, pages: Number(r.out.num_pages) };
}

/** A destination TD for import: keys configured, every TDCS page added, two streams. */
export function importTd(p: Platform, streams = 2): CreatedTd {
  const td = createTd(p, { stage: "tdcs" });
  addStreams(p, td.tdr, streams);
  return td;
}

/** PAGE_LIST_INFO with LAST_ENTRY set to cover `n` pages. */
export function withLastEntry(info: bigint, n: number): bigint {
  return (info & ~(0x1FFn << 55n)) | (BigInt(n - 1) << 55n);
}

/** The import of what `ex` exported, into `dst`. */
export function importInputs(ex: ImmutableExport & { pages: number }, dst: bigint): Inputs {
  return { ...ex.inputs, tdr_pa: dst, page_list_info: withLastEntry(ex.list.info, ex.pages) };
}

/** Exports the immutable state of `src` and imports it into `dst` (MEMORY_IMPORT). */
export function startImport(p: Platform, src: bigint, dst: bigint) {
  const ex = startExport(p, src, dst);
  ok("TDH.IMPORT.STATE.IMMUTABLE", p.seamcall("TDH.IMPORT.STATE.IMMUTABLE", importInputs(ex, dst)));
  return ex;
}

/**
 * An immutable-state bundle made by hand (as a misbehaving source would): `pages` are
 * the plaintext metadata lists, sealed under `key` with IV counter 1 on stream 0; the
 * MBMD fields may be changed by `header` / `body`. Writes the MBMD, pages and page list
 * to shared memory and returns TDH.IMPORT.STATE.IMMUTABLE's operands for `tdr`.
 */
export function sealedImmutableBundle(
  p: Platform,
  tdr: bigint,
  key: Uint8Array,
  pages: Uint8Array[],
  header: Partial<MbmdHeader> = {},
  body: Record<string, number> = {},
): Inputs {
  const spec = p.spec;
  let mbmd = encodeMbmd(spec, "MBMD_IMMUTABLE_TD_STATE", {
    mig_version: 0,
    migs_index: 0,
    mb_type: 0,
    mb_counter: 0,
    mig_epoch: 0,
    iv_counter: 0n,
    ...header,
  }, { num_f_migs: 1, num_sys_md_pages: 1, ...body });
  const gcm = new GcmStream(key, bundleIv(spec, 1n, 0), "encrypt");
  gcm.aad(macedBytes(spec, mbmd));
  const list = pageList(p, pages.length);
  pages.forEach((pg, i) => p.cpu.memory.write(list.pages[i], gcm.update(pg)));
  mbmd = withIvCounter(spec, withMac(spec, mbmd, gcm.mac()), 1n);
  const buf = mbmdOperand(p);
  p.cpu.memory.write(buf.pa, mbmd);
  return {
    tdr_pa: tdr,
    mbmd_hpa_and_size: buf.operand,
    page_list_info: list.info,
    migs_index_and_cmd: 0n,
  };
}

/** An MD_LIST page: its header (size and sequence count as given) and `body` after it. */
export function mdListPage(body: bigint[] = [], o: {
  size?: number;
  sequences?: number;
  reserved?: number;
} = {}): Uint8Array {
  const page = new Uint8Array(4096);
  const v = new DataView(page.buffer);
  v.setUint16(0, o.size ?? 8 + 8 * body.length, true);
  v.setUint16(2, o.sequences ?? 0, true);
  v.setUint32(4, o.reserved ?? 0, true);
  body.forEach((x, i) => v.setBigUint64(8 + 8 * i, x, true));
  return page;
}

/** An epoch token sealed under `key` (a source's TDH.EXPORT.TRACK, made by hand). */
export function sealedEpochToken(
  p: Platform,
  key: Uint8Array,
  o: { epoch: number; totalMb: bigint; ivCounter?: bigint; header?: Partial<MbmdHeader> },
): { pa: bigint; operand: bigint } {
  const spec = p.spec;
  const iv = o.ivCounter ?? 2n;
  let token = encodeMbmd(spec, "MBMD_EPOCH_TOKEN", {
    mig_version: 0,
    migs_index: 0,
    mb_type: Number(spec.enumValue("MB_TYPE", "EPOCH_TOKEN")),
    mb_counter: 0,
    mig_epoch: o.epoch,
    iv_counter: 0n,
    ...o.header,
  }, { total_mb: o.totalMb });
  const gcm = new GcmStream(key, bundleIv(spec, iv, 0), "encrypt");
  gcm.aad(macedBytes(spec, token));
  token = withIvCounter(spec, withMac(spec, token, gcm.mac()), iv);
  const buf = mbmdOperand(p);
  p.cpu.memory.write(buf.pa, token);
  return buf;
}

/**
 * A mutable TD-state bundle made by hand under `key` (IV counter `iv` on stream 0; the
 * stream's next bundle: MB_COUNTER 1, epoch 0 unless `header` says otherwise).
 */
export function sealedTdStateBundle(
  p: Platform,
  key: Uint8Array,
  pages: Uint8Array[],
  header: Partial<MbmdHeader> = {},
  iv = 9n,
): { mbmd: { pa: bigint; operand: bigint }; info: bigint } {
  const spec = p.spec;
  let mbmd = encodeMbmd(spec, "MBMD_TD_STATE", {
    mig_version: 0,
    migs_index: 0,
    mb_type: Number(spec.enumValue("MB_TYPE", "MUTABLE_TD_STATE")),
    mb_counter: 1,
    mig_epoch: 0,
    iv_counter: 0n,
    ...header,
  });
  const gcm = new GcmStream(key, bundleIv(spec, iv, 0), "encrypt");
  gcm.aad(macedBytes(spec, mbmd));
  const list = pageList(p, pages.length);
  pages.forEach((pg, i) => p.cpu.memory.write(list.pages[i], gcm.update(pg)));
  mbmd = withIvCounter(spec, withMac(spec, mbmd, gcm.mac()), iv);
  const buf = mbmdOperand(p);
  p.cpu.memory.write(buf.pa, mbmd);
  return { mbmd: buf, info: list.info };
}

/** A call's MBMD and page list, for the state leaves. */
export function stateBuffers(p: Platform, pages: number) {
  const mbmd = mbmdOperand(p);
  const list = pageList(p, pages);
  return { mbmd, list };
}

/**
 * The source's state up to its vCPU: an import session starts, the source pauses and
 * exports its TD state (which the destination imports) and its vCPU state; the
 * destination's vCPU is created, not yet initialised.
 */
function exportUpToVp(p: Platform, src: CreatedTd, srcVcpu: bigint, dst: CreatedTd) {
  const call = (leaf: string, inputs: Inputs) => ok(leaf, p.seamcall(leaf, inputs));
  startImport(p, src.tdr, dst.tdr);
  call("TDH.EXPORT.PAUSE", { tdr_pa: src.tdr });
  const td = stateBuffers(p, 2);
  call("TDH.EXPORT.STATE.TD", {
    tdr_pa: src.tdr,
    mbmd_hpa_and_size: td.mbmd.operand,
    page_list_info: td.list.info,
    migs_index_and_cmd: 0n,
  });
  call("TDH.IMPORT.STATE.TD", {
    tdr_pa: dst.tdr,
    mbmd_hpa_and_size: td.mbmd.operand,
    page_list_info: withLastEntry(td.list.info, 1),
    migs_index_and_cmd: 0n,
  });
  const vp = stateBuffers(p, 5);
  const r = call("TDH.EXPORT.STATE.VP", {
    tdvpr_pa: srcVcpu,
    mbmd_hpa_and_size: vp.mbmd.operand,
    page_list_info: vp.list.info,
    migs_index_and_cmd: 0n,
  });
  const dstVcpu = createVcpu(p, dst, { init: false });
  return { vp, pages: Number(r.out.num_pages), dstVcpu, call };
}

/**
 * A whole migration up to the destination's POST_IMPORT: the source exports its immutable
 * state, pauses, exports its TD and vCPU state and ends the in-order phase; the
 * destination imports each part, its vCPU created with TDH.VP.CREATE / TDH.VP.ADDCX.
 * Returns the destination's vCPU.
 */
export function migrateToPostImport(
  p: Platform,
  src: CreatedTd,
  srcVcpu: bigint,
  dst: CreatedTd,
): bigint {
  const { vp, pages, dstVcpu, call } = exportUpToVp(p, src, srcVcpu, dst);
  call("TDH.IMPORT.STATE.VP", {
    tdvpr_pa: dstVcpu,
    mbmd_hpa_and_size: vp.mbmd.operand,
    page_list_info: withLastEntry(vp.list.info, Math.max(4, pages)),
    migs_index_and_cmd: 0n,
  });
  const token = mbmdOperand(p);
  call("TDH.EXPORT.TRACK", {
    tdr_pa: src.tdr,
    mbmd_hpa_and_size: token.operand,
    migs_index_and_cmd: resumeCommand(p.spec),
  });
  call("TDH.IMPORT.TRACK", {
    tdr_pa: dst.tdr,
    mbmd_hpa_and_size: token.operand,
    migs_index_and_cmd: 0n,
  });
  return dstVcpu;
}

/**
 * The destination is in STATE_IMPORT with a new vCPU (created, not initialised) and the
 * source's vCPU exported: TDH.IMPORT.STATE.VP's operands.
 */
export function readyForVpImport(p: Platform, dst: CreatedTd) {
  const src = migratableTd(p);
  const srcVcpu = createVcpu(p, src);
  finalizeTd(p, src);
  addStreams(p, src.tdr);
  const { vp, pages, dstVcpu } = exportUpToVp(p, src, srcVcpu, dst);
  return {
    src,
    srcVcpu,
    dstVcpu,
    vp,
    inputs: {
      tdvpr_pa: dstVcpu,
      mbmd_hpa_and_size: vp.mbmd.operand,
      page_list_info: withLastEntry(vp.list.info, pages),
      migs_index_and_cmd: 0n,
    } as Inputs,
  };
}

/** A vCPU-state bundle made by hand under `key` (stream 0, the stream's bundle 2 of epoch 0). */
export function sealedVpBundle(
  p: Platform,
  key: Uint8Array,
  pages: Uint8Array[],
  header: Partial<MbmdHeader> = {},
  iv = 11n,
): { mbmd: { pa: bigint; operand: bigint }; info: bigint } {
  const spec = p.spec;
  let mbmd = encodeMbmd(spec, "MBMD_VP_STATE", {
    mig_version: 0,
    migs_index: 0,
    mb_type: Number(spec.enumValue("MB_TYPE", "MUTABLE_VCPU_STATE")),
    mb_counter: 2,
    mig_epoch: 0,
    iv_counter: 0n,
    ...header,
  }, { vp_index: 0 });
  const gcm = new GcmStream(key, bundleIv(spec, iv, 0), "encrypt");
  gcm.aad(macedBytes(spec, mbmd));
  const list = pageList(p, pages.length);
  pages.forEach((pg, i) => p.cpu.memory.write(list.pages[i], gcm.update(pg)));
  mbmd = withIvCounter(spec, withMac(spec, mbmd, gcm.mac()), iv);
  const buf = mbmdOperand(p);
  p.cpu.memory.write(buf.pa, mbmd);
  return { mbmd: buf, info: list.info };
}

/** Private GPAs of the pages `liveExportWithPages` maps (4 KiB, same 2 MiB range). */
export const EXPORT_GPAS = [0x1000_0000n, 0x1000_1000n, 0x1000_2000n];

/**
 * A migratable TD (its vCPU created, not yet finalized) gets its pages: two added
 * (MAPPED) and a third left FREE; it is finalized, and an export session started
 * (LIVE_EXPORT).
 */
export function liveExportWithPages(p: Platform, td: CreatedTd): void {
  addPage(p, td, EXPORT_GPAS[0], new Uint8Array(4096).fill(1));
  addPage(p, td, EXPORT_GPAS[1], new Uint8Array(4096).fill(2));
  finalizeTd(p, td);
  addStreams(p, td.tdr);
  startExport(p, td.tdr, importTd(p).tdr);
}

/** Sets `bits` in entry `i` of the GPA list at `listPa` (a malformed or unusual entry). */
export function setListEntryBits(p: Platform, listPa: bigint, i: number, bits: bigint): void {
  const at = listPa + BigInt(8 * i);
  const b = p.cpu.memory.read(at, 8);
  const v = new DataView(b.buffer, b.byteOffset, 8);
  v.setBigUint64(0, v.getBigUint64(0, true) | bits, true);
  p.cpu.memory.write(at, b);
}

/** A GPA list page of MIGRATE entries for `gpas`; GPA_LIST_INFO covering them. */
export function gpaList(p: Platform, gpas: bigint[], operation = "MIGRATE") {
  const spec = p.spec;
  const layout = spec.bitfield("GPA_LIST_ENTRY").fields;
  const pa = p.allocPage();
  const bytes = new Uint8Array(8 * gpas.length);
  const v = new DataView(bytes.buffer);
  gpas.forEach((g, i) =>
    v.setBigUint64(
      8 * i,
      encodeBits(layout, {
        gpa: g >> 12n,
        operation: spec.enumValue("GPA_LIST_ENTRY_OPERATION", operation),
      }),
      true,
    )
  );
  p.cpu.memory.write(pa, bytes);
  const info = encodeBits(spec.bitfield("GPA_LIST_INFO").fields, {
    hpa: pa >> 12n,
    first_entry: 0n,
    last_entry: BigInt(gpas.length - 1),
  });
  return { pa, info };
}
