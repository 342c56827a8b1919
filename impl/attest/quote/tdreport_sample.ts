// Made-up but well-formed TDREPORTs for tests and demos of the quoting path: sample
// values for every field (seeded), TEE type TDX, the caller's overrides, and the two
// hashes of REPORTMACSTRUCT computed over the result so the report checks out. The MAC
// stays made up: only the platform could compute it.
import { createHash } from "node:crypto";
import type { Spec } from "../../spec/mod.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { SampleRng, sampleStruct } from "../../spec/sample_values.ts";
import { enumNumber, fieldOffset, structSize } from "../spec_facts.ts";

export interface TdreportFields {
  /** Overrides of TDINFO_STRUCT fields (mr_td, rtmr0..3, attributes, ...). */
  tdInfo?: DecodedStruct;
  /** Overrides of TEE_TCB_INFO fields (tee_tcb_svn, mr_seam, ...). */
  teeTcbInfo?: DecodedStruct;
  reportData?: Uint8Array;
}

export function sampleTdreport(spec: Spec, seed: number, fields: TdreportFields = {}): Uint8Array {
  const codec = new StructCodec(spec);
  const r = sampleStruct(spec, "TDREPORT_STRUCT", new SampleRng(seed));
  const mac = r.report_mac_struct as DecodedStruct;
  mac.report_type = { type: enumNumber(spec, "TEE_TYPE", "TDX"), subtype: 0, version: 0 };
  if (fields.reportData) mac.report_data = fields.reportData;
  r.tee_tcb_info = { ...(r.tee_tcb_info as DecodedStruct), ...fields.teeTcbInfo };
  r.td_info = { ...(r.td_info as DecodedStruct), ...fields.tdInfo };
  const draft = codec.encode("TDREPORT_STRUCT", r);
  const part = (name: string, struct: string) => {
    const at = fieldOffset(spec, "TDREPORT_STRUCT", name);
    return draft.subarray(at, at + structSize(spec, struct));
  };
  const sha384 = (b: Uint8Array) => new Uint8Array(createHash("sha384").update(b).digest());
  mac.tee_tcb_info_hash = sha384(part("tee_tcb_info", "TEE_TCB_INFO"));
  mac.tee_info_hash = sha384(part("td_info", "TDINFO_STRUCT"));
  return codec.encode("TDREPORT_STRUCT", r);
}
