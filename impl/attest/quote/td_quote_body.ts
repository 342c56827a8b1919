// A TDREPORT becomes the body of a TD quote: the TDX module's identity and TCB come
// from TEE_TCB_INFO, the TD's attributes and measurements from TDINFO_STRUCT, the
// REPORTDATA from REPORTMACSTRUCT. A real quoting enclave first checks the report's
// MAC, which only the platform can; here the two hashes the MAC covers are checked
// instead, so a report whose TDINFO or TEE_TCB_INFO was altered is refused.
import { createHash } from "node:crypto";
import type { Spec } from "../../spec/mod.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { decoding, fail, type Result } from "../attest_error.ts";
import { enumName, enumNumber, fieldOffset, structSize } from "../spec_facts.ts";

export type TdBodyStruct = "TD_QUOTE_BODY_1_0" | "TD_QUOTE_BODY_1_5";

/** Body field ← [TDREPORT part, field] where the names differ or the source is not TDINFO. */
const FROM: Record<string, [string, string]> = {
  tee_tcb_svn: ["tee_tcb_info", "tee_tcb_svn"],
  mr_seam: ["tee_tcb_info", "mr_seam"],
  mr_signer_seam: ["tee_tcb_info", "mr_signer_seam"],
  seam_attributes: ["tee_tcb_info", "attributes"],
  td_attributes: ["td_info", "attributes"],
  report_data: ["report_mac_struct", "report_data"],
  tee_tcb_svn2: ["tee_tcb_info", "tee_tcb_svn2"],
  mr_servicetd: ["td_info", "servtd_hash"],
};

export interface TdreportCheck {
  /** Check TEE_TCB_INFO_HASH and TEE_INFO_HASH against the report's contents (default true). */
  checkHashes?: boolean;
}

function sha384(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha384").update(b).digest());
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Decodes and checks a TDREPORT_STRUCT (1024 bytes, TEE type TDX). */
export function decodeTdreport(
  spec: Spec,
  report: Uint8Array,
  opts: TdreportCheck = {},
): Result<DecodedStruct> {
  const size = structSize(spec, "TDREPORT_STRUCT");
  if (report.length !== size) {
    return fail(
      report.length < size ? "truncated" : "invalid",
      "TDREPORT_STRUCT",
      `a TDREPORT is ${size} bytes, got ${report.length}`,
    );
  }
  const d = decoding(0, () => new StructCodec(spec).decode("TDREPORT_STRUCT", report).value);
  if (!d.ok) return d;
  const mac = d.value.report_mac_struct as DecodedStruct;
  const type = (mac.report_type as DecodedStruct).type as number;
  if (type !== enumNumber(spec, "TEE_TYPE", "TDX")) {
    return fail(
      "not-tdx",
      "REPORTTYPE.type",
      `the report's TEE type is 0x${type.toString(16)} (${
        enumName(spec, "TEE_TYPE", type) ?? "unknown"
      }), not TDX`,
      fieldOffset(spec, "TDREPORT_STRUCT", "report_mac_struct"),
    );
  }
  if (opts.checkHashes !== false) {
    const tcbAt = fieldOffset(spec, "TDREPORT_STRUCT", "tee_tcb_info");
    const infoAt = fieldOffset(spec, "TDREPORT_STRUCT", "td_info");
    const tcb = report.subarray(tcbAt, tcbAt + structSize(spec, "TEE_TCB_INFO"));
    const info = report.subarray(infoAt, infoAt + structSize(spec, "TDINFO_STRUCT"));
    if (!equal(sha384(tcb), mac.tee_tcb_info_hash as Uint8Array)) {
      return fail(
        "invalid",
        "REPORTMACSTRUCT.tee_tcb_info_hash",
        "TEE_TCB_INFO_HASH is not the SHA-384 of the report's TEE_TCB_INFO",
        fieldOffset(spec, "REPORTMACSTRUCT", "tee_tcb_info_hash"),
      );
    }
    if (!equal(sha384(info), mac.tee_info_hash as Uint8Array)) {
      return fail(
        "invalid",
        "REPORTMACSTRUCT.tee_info_hash",
        "TEE_INFO_HASH is not the SHA-384 of the report's TDINFO_STRUCT",
        fieldOffset(spec, "REPORTMACSTRUCT", "tee_info_hash"),
      );
    }
  }
  return d;
}

/** The quote body of `bodyStruct` for a decoded TDREPORT. */
export function quoteBodyFromTdreport(
  spec: Spec,
  tdreport: DecodedStruct,
  bodyStruct: TdBodyStruct,
): DecodedStruct {
  const body: DecodedStruct = {};
  for (const f of spec.struct(bodyStruct).fields) {
    const [part, name] = FROM[f.name] ?? ["td_info", f.name];
    const v = (tdreport[part] as DecodedStruct)[name];
    if (v === undefined) {
      throw new Error(`TDREPORT has no ${part}.${name} for ${bodyStruct}.${f.name}`);
    }
    body[f.name] = v;
  }
  return body;
}
