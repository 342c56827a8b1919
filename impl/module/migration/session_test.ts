import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { createTd, createVcpu, finalizeTd } from "../testing/td_fixture.ts";
import { cpuidKey } from "../td_params.ts";
import {
  addStreams,
  handOverKeys,
  immutableExportInputs,
  importTd,
  mbmdOperand,
  migratableTd,
  migrateToPostImport,
  pageList,
  runnableMigratableTd,
  startImport,
  withLastEntry,
} from "./migration_fixture.ts";

Deno.test("immutable state round trip: export, then import into a TD created for import", () => {
  const p = new Platform();
  p.readyPlatform();
  const src = runnableMigratableTd(p);
  const dst = createTd(p, { stage: "tdcs" });
  addStreams(p, dst.tdr);
  handOverKeys(p, src.tdr, dst.tdr);
  const ex = immutableExportInputs(p, src.tdr);
  const r = p.seamcall("TDH.EXPORT.STATE.IMMUTABLE", ex.inputs);
  assert.equal(r.name, "TDX_SUCCESS", `${r.name} ${r.operand}`);
  const n = Number(r.out.num_pages);
  assert.ok(n >= 2);
  const st = p.module.state.tds.get(src.tdr)!;
  assert.equal(st.opState, "OP_STATE_LIVE_EXPORT");
  const info = ex.list.info & ~(0x1FFn << 55n) | (BigInt(n - 1) << 55n);
  const im = p.seamcall("TDH.IMPORT.STATE.IMMUTABLE", {
    tdr_pa: dst.tdr,
    mbmd_hpa_and_size: ex.mbmd.operand,
    page_list_info: info,
    migs_index_and_cmd: 0n,
  });
  assert.equal(im.name, "TDX_SUCCESS", `${im.name} ${im.operand} 0x${im.status.toString(16)}`);
  const dt = p.module.state.tds.get(dst.tdr)!;
  assert.equal(dt.opState, "OP_STATE_MEMORY_IMPORT");
  assert.equal(dt.attributes, st.attributes);
  assert.equal(dt.xfam, st.xfam);
  // CPUID_VALUES carries the leaves of TD_CPUID_LOOKUP (the leaves a host can read).
  const lookup = new Set(
    p.spec.enum("TD_CPUID_LOOKUP").values.map((v) => {
      const x = BigInt(v.value);
      return cpuidKey(Number(x & 0xFFFF_FFFFn), Number(x >> 32n));
    }),
  );
  const carried = [...st.cpuid!].filter(([k, regs]) => lookup.has(k) && regs.some((r) => r !== 0));
  assert.deepEqual(dt.cpuid, new Map(carried));
});

Deno.test("mutable TD state and epochs: export after pause, import into MEMORY_IMPORT", () => {
  const p = new Platform();
  p.readyPlatform();
  const src = runnableMigratableTd(p);
  const dst = importTd(p);
  const ex = startImport(p, src.tdr, dst.tdr);
  void ex;
  const st = p.module.state.tds.get(src.tdr)!;
  st.rtmr[2] = new Uint8Array(48).fill(0xAB);
  assert.equal(p.seamcall("TDH.EXPORT.PAUSE", { tdr_pa: src.tdr }).name, "TDX_SUCCESS");
  const mbmd = mbmdOperand(p);
  const list = pageList(p, 2);
  const r = p.seamcall("TDH.EXPORT.STATE.TD", {
    tdr_pa: src.tdr,
    mbmd_hpa_and_size: mbmd.operand,
    page_list_info: list.info,
    migs_index_and_cmd: 0n,
  });
  assert.equal(r.name, "TDX_SUCCESS", `${r.name} ${r.operand}`);
  assert.equal(r.out.num_pages, 1n);
  const im = p.seamcall("TDH.IMPORT.STATE.TD", {
    tdr_pa: dst.tdr,
    mbmd_hpa_and_size: mbmd.operand,
    page_list_info: withLastEntry(list.info, 1),
    migs_index_and_cmd: 0n,
  });
  assert.equal(
    im.name,
    "TDX_SUCCESS",
    `${im.name} ${im.operand} 0x${im.out.ext_error_info_0?.toString(16)}`,
  );
  const dt = p.module.state.tds.get(dst.tdr)!;
  assert.equal(dt.opState, "OP_STATE_STATE_IMPORT");
  assert.deepEqual(dt.rtmr[2], st.rtmr[2]);
});

Deno.test("a whole migration: POST_IMPORT, commit, end", () => {
  const p = new Platform();
  p.readyPlatform();
  const src = migratableTd(p);
  const srcVcpu = createVcpu(p, src);
  finalizeTd(p, src);
  addStreams(p, src.tdr);
  const dst = importTd(p);
  const sv = p.module.state.vcpus.get(srcVcpu)!;
  sv.gprs.set("R12", 0x1234n);
  const dstVcpu = migrateToPostImport(p, src, srcVcpu, dst);
  const dt = p.module.state.tds.get(dst.tdr)!;
  assert.equal(dt.opState, "OP_STATE_POST_IMPORT");
  const dv = p.module.state.vcpus.get(dstVcpu)!;
  assert.equal(dv.state, "initialized");
  assert.equal(dv.gprs.get("R12"), 0x1234n);
  assert.equal(p.seamcall("TDH.IMPORT.COMMIT", { tdr_pa: dst.tdr }).name, "TDX_SUCCESS");
  assert.equal(p.seamcall("TDH.IMPORT.END", { tdr_pa: dst.tdr }).name, "TDX_SUCCESS");
  assert.equal(dt.opState, "OP_STATE_RUNNABLE");
});
