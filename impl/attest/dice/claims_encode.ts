// The CWT claims of a DICE quote (DICE_QUOTE_CLAIMS) for a TD_QUOTE_BODY_1_5: REPORTDATA
// as claim -212 and every other body field in its submodule's CoRIM concise evidence
// (spec form: OID keys ending ".0", {"0": origin, "1": current}, each tag 571 around the
// encoded map). Values are the body field's bytes; digests are written as plain byte
// strings and SVN arrays as 16 integers (provisional choices - go-tdx-guest accepts both
// forms of each). The environment names the submodule; no source says what Intel puts there.
// The "integration sample" form is the one of Intel's sample quote as go-tdx-guest reads
// it: ".1" keys, tag 571 around the map itself, one platform map holding TEE_TCB_SVN2 at
// -153 and the SEAM values, no SEAM submodule.
import type { DecodedStruct } from "../../spec/codec.ts";
import { StructCodec } from "../../spec/codec.ts";
import { fieldOffset, fieldSize } from "../spec_facts.ts";
import { encodeCbor, Tagged } from "./cbor.ts";
import { type DiceLayout, type Entry, type Submodule } from "./dice_layout.ts";

export interface ClaimsOptions {
  iss?: string;
  sub?: string;
  /** Claim 265, written as given (a text string, or DER OID content octets). */
  eatProfile?: string | Uint8Array;
  /** Vendor text of each evidence environment. */
  vendor?: string;
  /** The specification form (default) or Intel's integration-sample form. */
  form?: "specification" | "integration sample";
}

const SUBMODULES: Submodule[] = ["platform_tcb", "seam", "td_quote_body", "service_td"];

export function encodeClaims(
  L: DiceLayout,
  body: DecodedStruct,
  options: ClaimsOptions = {},
): Uint8Array {
  const spec = L.spec;
  const bytes = new StructCodec(spec).encode(L.bodyStruct, body);
  const field = (name: string) => {
    const at = fieldOffset(spec, L.bodyStruct, name);
    return bytes.slice(at, at + fieldSize(spec, L.bodyStruct, name));
  };
  const sample = options.form === "integration sample";
  const values = new Map<string, Map<number, unknown>>();
  for (const p of L.places) {
    let id = `${p.submodule}/${p.entry}`;
    let key = p.key;
    if (sample && p.submodule === "seam") id = "platform_tcb/origin";
    if (sample && p.field === "tee_tcb_svn2") [id, key] = ["platform_tcb/origin", L.sampleTcbSvn2];
    if (!values.has(id)) values.set(id, new Map());
    const b = field(p.field);
    values.get(id)!.set(key, p.form === "svns" ? Array.from(b) : b);
  }
  const evidence = (submodule: Submodule, entry: Entry, mval: Map<number, unknown>) => {
    const env = new Map([[
      L.environment.class,
      new Map<number, string>([
        ...(options.vendor !== undefined ? [[L.class.vendor, options.vendor] as const] : []),
        [L.class.model, `${submodule} ${entry}`],
      ]),
    ]]);
    const triple = [env, [new Map([[L.measurement.mval, mval]])]];
    const ce = new Map([[L.concise.evTriples, new Map([[L.concise.evidenceTriples, [triple]]])]]);
    return new Tagged(L.tag.conciseEvidence, sample ? ce : encodeCbor(ce));
  };
  const submods = new Map<string, unknown>();
  for (const s of SUBMODULES) {
    if (sample) {
      const mval = values.get(`${s}/origin`);
      if (mval) submods.set(L.submodule[s].sampleKey, evidence(s, "origin", mval));
      continue;
    }
    const entries = new Map<string, unknown>();
    for (const e of ["origin", "current"] as const) {
      const mval = values.get(`${s}/${e}`);
      if (mval) entries.set(L.entry[e], evidence(s, e, mval));
    }
    submods.set(L.submodule[s].key, entries);
  }
  const claims = new Map<number, unknown>();
  if (options.iss !== undefined) claims.set(L.claim.iss, options.iss);
  if (options.sub !== undefined) claims.set(L.claim.sub, options.sub);
  if (options.eatProfile !== undefined) claims.set(L.claim.eatProfile, options.eatProfile);
  claims.set(L.claim.reportData, field("report_data"));
  claims.set(L.claim.submods, submods);
  return encodeCbor(claims);
}
