// TD reports: TDREPORT_STRUCT as TDG.MR.REPORT writes it and the MAC check of
// TDG.MR.VERIFYREPORT. Layouts come from spec/struct (REPORTMACSTRUCT, TEE_TCB_INFO,
// TDINFO_STRUCT, REPORTTYPE) through the codec; the hashed ranges are the structs'
// own extents inside TDREPORT_STRUCT.
//
// The MAC is model-defined (spec/struct/reportmacstruct.yaml says so): the CPU's key
// and algorithm are not public, so the model uses HMAC-SHA-256 with the module
// state's reportMacKey over the REPORTMACSTRUCT bytes before the MAC field.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { Spec } from "../spec/mod.ts";
import { encodeBits } from "../spec/bits.ts";
import { type DecodedStruct, StructCodec } from "../spec/codec.ts";
import type { ModuleState, TdState } from "./state.ts";

/** What the CPU and the loaded SEAM module put into a report's TCB parts. */
export interface ReportTcb {
  cpusvn: Uint8Array;
  teeTcbSvn: Uint8Array;
  teeTcbSvn2: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: bigint;
  /** TEE_TCB_INFO_VALID fields that are populated. */
  validFields: string[];
}

export function defaultReportTcb(): ReportTcb {
  const svn = (...b: number[]) => Uint8Array.from({ length: 16 }, (_, i) => b[i] ?? 0);
  return {
    cpusvn: svn(7, 7, 2, 2, 3, 1),
    teeTcbSvn: svn(3, 0, 5),
    // Not populated (its VALID bits are clear), so zero.
    teeTcbSvn2: svn(),
    // The model's module measurement: SHA-384 of its name (an Intel build would differ).
    mrSeam: createHash("sha384").update("tdx-conformance reference TDX module").digest(),
    mrSignerSeam: new Uint8Array(48),
    seamAttributes: 0n,
    validFields: ["VALID", "TEE_TCB_SVN", "MRSEAM"],
  };
}

export function reportTcb(state: ModuleState): ReportTcb {
  return state.reportTcb ?? defaultReportTcb();
}

function allOnes(bits: [number, number]): bigint {
  return (1n << BigInt(bits[1] - bits[0] + 1)) - 1n;
}

export function teeTcbInfo(spec: Spec, tcb: ReportTcb): Uint8Array {
  const validLayout = spec.bitfield("TEE_TCB_INFO_VALID").fields;
  const valid = encodeBits(
    validLayout,
    Object.fromEntries(
      tcb.validFields.map((n) => [n, allOnes(validLayout.find((f) => f.name === n)!.bits)]),
    ),
  );
  return new StructCodec(spec).encode("TEE_TCB_INFO", {
    valid,
    tee_tcb_svn: tcb.teeTcbSvn,
    mr_seam: tcb.mrSeam,
    mr_signer_seam: tcb.mrSignerSeam,
    attributes: tcb.seamAttributes,
    tee_tcb_svn2: tcb.teeTcbSvn2,
  });
}

/** TDINFO_STRUCT from the TD's TDCS fields. */
export function tdInfo(spec: Spec, td: TdState): Uint8Array {
  const m = (b: Uint8Array | undefined) => b ?? new Uint8Array(48);
  return new StructCodec(spec).encode("TDINFO_STRUCT", {
    attributes: td.attributes,
    xfam: td.xfam,
    mr_td: m(td.mrtd),
    mr_config_id: m(td.mrconfigid),
    mr_owner: m(td.mrowner),
    mr_owner_config: m(td.mrownerconfig),
    rtmr0: m(td.rtmr[0]),
    rtmr1: m(td.rtmr[1]),
    rtmr2: m(td.rtmr[2]),
    rtmr3: m(td.rtmr[3]),
    servtd_hash: m(td.servtdHash),
  });
}

/** Offset and size of a field of TDREPORT_STRUCT. */
function extent(spec: Spec, struct: string, field: string): { offset: number; size: number } {
  const f = spec.struct(struct).fields.find((x) => x.name === field);
  if (!f || f.offset === undefined || f.size === undefined) {
    throw new Error(`${struct}.${field} has no fixed offset and size`);
  }
  return { offset: f.offset, size: f.size };
}

const sha384 = (b: Uint8Array) => new Uint8Array(createHash("sha384").update(b).digest());

/** TEE_TCB_INFO_HASH of a report: SHA-384 over the TEE_TCB_INFO part. */
export function teeTcbInfoHash(spec: Spec, report: Uint8Array): Uint8Array {
  const e = extent(spec, "TDREPORT_STRUCT", "tee_tcb_info");
  return sha384(report.subarray(e.offset, e.offset + e.size));
}

/** TEE_INFO_HASH of a report: SHA-384 over TDINFO_STRUCT. */
export function teeInfoHash(spec: Spec, report: Uint8Array): Uint8Array {
  const e = extent(spec, "TDREPORT_STRUCT", "td_info");
  return sha384(report.subarray(e.offset, e.offset + e.size));
}

/** The model's MAC of a REPORTMACSTRUCT (its bytes before the MAC field). */
export function reportMac(spec: Spec, key: Uint8Array, macStruct: Uint8Array): Uint8Array {
  const mac = extent(spec, "REPORTMACSTRUCT", "mac");
  const tag = createHmac("sha256", key).update(macStruct.subarray(0, mac.offset)).digest();
  return new Uint8Array(tag.subarray(0, mac.size));
}

export function macMatches(spec: Spec, key: Uint8Array, macStruct: Uint8Array): boolean {
  const e = extent(spec, "REPORTMACSTRUCT", "mac");
  const want = reportMac(spec, key, macStruct);
  return timingSafeEqual(want, macStruct.subarray(e.offset, e.offset + e.size));
}

/** REPORTTYPE.VERSION: with service-TD bindings in use or not. */
export function reportVersion(spec: Spec, servtdNum: bigint): bigint {
  return spec.enumValue("TDX_REPORT_VERSION", servtdNum > 0n ? "WITH_SERVTDS" : "NO_SERVTDS");
}

/** The 1024-byte TDREPORT_STRUCT of a TD for 64 bytes of REPORTDATA. */
export function buildTdReport(
  spec: Spec,
  state: ModuleState,
  td: TdState,
  reportData: Uint8Array,
  opts: { subtype?: bigint; servtdNum?: bigint } = {},
): Uint8Array {
  const codec = new StructCodec(spec);
  const tcb = reportTcb(state);
  const tcbInfo = teeTcbInfo(spec, tcb);
  const info = tdInfo(spec, td);
  const report = new Uint8Array(spec.struct("TDREPORT_STRUCT").size as number);
  const put = (field: string, bytes: Uint8Array) =>
    report.set(bytes, extent(spec, "TDREPORT_STRUCT", field).offset);
  put("tee_tcb_info", tcbInfo);
  put("td_info", info);
  const macStruct: DecodedStruct = {
    report_type: {
      type: Number(spec.enumValue("TEE_TYPE", "TDX")),
      subtype: Number(opts.subtype ?? 0n),
      version: Number(reportVersion(spec, opts.servtdNum ?? 0n)),
    },
    cpusvn: tcb.cpusvn,
    tee_tcb_info_hash: teeTcbInfoHash(spec, report),
    tee_info_hash: teeInfoHash(spec, report),
    report_data: reportData,
    mac: new Uint8Array(extent(spec, "REPORTMACSTRUCT", "mac").size),
  };
  const bytes = codec.encode("REPORTMACSTRUCT", macStruct);
  const mac = extent(spec, "REPORTMACSTRUCT", "mac");
  bytes.set(reportMac(spec, state.reportMacKey, bytes), mac.offset);
  put("report_mac_struct", bytes);
  return report;
}

/** SEAMVERIFYREPORT's CPUSVN check: no component newer than the platform's. */
export function cpusvnAcceptable(spec: Spec, state: ModuleState, macStruct: Uint8Array): boolean {
  const e = extent(spec, "REPORTMACSTRUCT", "cpusvn");
  const current = reportTcb(state).cpusvn;
  const given = macStruct.subarray(e.offset, e.offset + e.size);
  return given.every((b, i) => b <= (current[i] ?? 0));
}
