// The report builder against a real TDREPORT (fixtures/realdata/tdreports): rebuilt
// from its own decoded TCB and TD fields, it must give the same TEE_TCB_INFO and
// TDINFO bytes and the same two embedded hashes.
import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { decodeBits } from "../spec/bits.ts";
import { type DecodedStruct, StructCodec } from "../spec/codec.ts";
import { ModuleState } from "./state.ts";
import {
  buildTdReport,
  cpusvnAcceptable,
  macMatches,
  type ReportTcb,
  tdInfo,
  teeInfoHash,
  teeTcbInfo,
  teeTcbInfoHash,
} from "./report.ts";

const spec = theSpec();
const codec = new StructCodec(spec);
const real = Deno.readFileSync(
  new URL("../../fixtures/realdata/tdreports/intel_tdreport_for_test.dat", import.meta.url),
);
const decoded = codec.decode("TDREPORT_STRUCT", real).value;
const mac = decoded.report_mac_struct as DecodedStruct;
const tcbInfo = decoded.tee_tcb_info as DecodedStruct;
const info = decoded.td_info as DecodedStruct;

function tcbOfReal(): ReportTcb {
  const valid = decodeBits(spec.bitfield("TEE_TCB_INFO_VALID").fields, tcbInfo.valid as bigint);
  return {
    cpusvn: mac.cpusvn as Uint8Array,
    teeTcbSvn: tcbInfo.tee_tcb_svn as Uint8Array,
    teeTcbSvn2: tcbInfo.tee_tcb_svn2 as Uint8Array,
    mrSeam: tcbInfo.mr_seam as Uint8Array,
    mrSignerSeam: tcbInfo.mr_signer_seam as Uint8Array,
    seamAttributes: tcbInfo.attributes as bigint,
    validFields: Object.entries(valid.fields).filter(([, v]) => v !== 0n).map(([k]) => k),
  };
}

function tdOfReal(state: ModuleState) {
  const td = state.newTd(0x10000n, 7);
  td.attributes = info.attributes as bigint;
  td.xfam = info.xfam as bigint;
  td.mrtd = info.mr_td as Uint8Array;
  td.mrconfigid = info.mr_config_id as Uint8Array;
  td.mrowner = info.mr_owner as Uint8Array;
  td.mrownerconfig = info.mr_owner_config as Uint8Array;
  td.rtmr = [0, 1, 2, 3].map((i) => info[`rtmr${i}`] as Uint8Array);
  td.servtdHash = info.servtd_hash as Uint8Array;
  return td;
}

const section = (name: string) => {
  const f = spec.struct("TDREPORT_STRUCT").fields.find((x) => x.name === name)!;
  return real.subarray(f.offset!, f.offset! + f.size!);
};

Deno.test("the real TDREPORT's hashes are over TEE_TCB_INFO and TDINFO_STRUCT", () => {
  assert.deepEqual(teeTcbInfoHash(spec, real), mac.tee_tcb_info_hash);
  assert.deepEqual(teeInfoHash(spec, real), mac.tee_info_hash);
});

Deno.test("rebuilding the real TDREPORT's parts gives its bytes and hashes", () => {
  const state = new ModuleState();
  state.reportTcb = tcbOfReal();
  const td = tdOfReal(state);
  assert.deepEqual(teeTcbInfo(spec, state.reportTcb), section("tee_tcb_info"));
  assert.deepEqual(tdInfo(spec, td), section("td_info"));
  const built = buildTdReport(spec, state, td, mac.report_data as Uint8Array);
  const b = codec.decode("TDREPORT_STRUCT", built).value;
  const bm = b.report_mac_struct as DecodedStruct;
  assert.deepEqual(bm.report_type, mac.report_type);
  assert.deepEqual(bm.cpusvn, mac.cpusvn);
  assert.deepEqual(bm.tee_tcb_info_hash, mac.tee_tcb_info_hash);
  assert.deepEqual(bm.tee_info_hash, mac.tee_info_hash);
  assert.deepEqual(bm.report_data, mac.report_data);
  // Everything but the (model-defined) MAC is the real report.
  const macOff = spec.struct("REPORTMACSTRUCT").fields.find((f) => f.name === "mac")!.offset!;
  assert.deepEqual(built.subarray(0, macOff), real.subarray(0, macOff));
  assert.deepEqual(built.subarray(macOff + 32), real.subarray(macOff + 32));
});

Deno.test("the model MAC verifies its own reports and nothing altered or foreign", () => {
  const state = new ModuleState();
  const td = tdOfReal(state);
  const built = buildTdReport(spec, state, td, new Uint8Array(64).fill(0xAB));
  const macStruct = built.subarray(0, 256);
  assert.equal(macMatches(spec, state.reportMacKey, macStruct), true);
  const altered = macStruct.slice();
  altered[130] ^= 1;
  assert.equal(macMatches(spec, state.reportMacKey, altered), false);
  // Another platform (another key) cannot verify it.
  const other = new ModuleState(new Uint8Array(32).fill(1));
  assert.equal(macMatches(spec, other.reportMacKey, macStruct), false);
  // The real report's MAC is Intel's, not the model's.
  assert.equal(macMatches(spec, state.reportMacKey, real.subarray(0, 256)), false);
  assert.equal(cpusvnAcceptable(spec, state, macStruct), true);
  const newer = macStruct.slice();
  newer[16] = 0xFF;
  assert.equal(cpusvnAcceptable(spec, state, newer), false);
});

Deno.test("REPORTTYPE.VERSION follows the service-TD bindings", () => {
  const state = new ModuleState();
  const td = tdOfReal(state);
  const v = (n: bigint) =>
    (codec.decode(
      "TDREPORT_STRUCT",
      buildTdReport(spec, state, td, new Uint8Array(64), {
        servtdNum: n,
      }),
    ).value.report_mac_struct as DecodedStruct).report_type as DecodedStruct;
  assert.equal(BigInt(v(0n).version as number), spec.enumValue("TDX_REPORT_VERSION", "NO_SERVTDS"));
  assert.equal(
    BigInt(v(1n).version as number),
    spec.enumValue("TDX_REPORT_VERSION", "WITH_SERVTDS"),
  );
});
