// The claims of a DICE quote (DICE_QUOTE_CLAIMS) mapped onto a TD_QUOTE_BODY_1_5, as
// go-tdx-guest's parseDiceCWTPayload does: REPORTDATA from claim -212, every other field
// from its submodule's concise evidence (DICE_QUOTE_SUBMODULES notes). Both the
// specification form (".0" keys, {"0": origin, "1": current}, tag 571 around a byte string)
// and Intel's integration-sample form (".1" keys, tag 571 around the map, TEE_TCB_SVN2 at
// -153, SEAM values in the platform map) are read. Every field must have the size of its
// body field; the body is then decoded with the spec's codec, so --expect and the debug
// check see the same fields as for an ECDSA quote.
import * as asn1js from "asn1js";
import { type DecodedStruct, StructCodec } from "../../../spec/codec.ts";
import { fieldOffset, fieldSize, structSize } from "../../spec_facts.ts";
import {
  asInteger,
  type CborValue,
  decodeCbor,
  isBytes,
  isMap,
  isTagged,
  mapGet,
} from "../../dice/cbor.ts";
import type { DiceLayout, Submodule } from "../../dice/dice_layout.ts";
import { fail, ok, reason, type Result } from "../reason.ts";

export interface DiceClaims {
  iss: string | undefined;
  sub: string | undefined;
  /** Claim 265 as text (a byte string is read as DER OID content octets). */
  eatProfile: string | undefined;
  /** "specification", "integration sample", or "mixed" (some of each). */
  form: string;
  body: DecodedStruct;
}

type CborMap = Map<CborValue, CborValue>;

function failAt<T>(field: string, message: string, expected?: string, actual?: string): Result<T> {
  const at = field ? `claims.${field}` : "claims";
  return fail(reason("parse", message, { field: at, expected, actual }));
}

/** Dotted text of DER OID content octets (asn1js reads them), or undefined. */
function oidFromContent(content: Uint8Array): string | undefined {
  const oid = new asn1js.ObjectIdentifier();
  const end = oid.valueBlock.fromBER(content.slice().buffer, 0, content.length);
  return end === content.length && !oid.valueBlock.error ? oid.valueBlock.toString() : undefined;
}

interface Evidence {
  origin: CborMap;
  current: CborMap | undefined;
  sample: boolean;
}

/** The measurement-values map inside tag 571 (byte string or map), or a failure. */
function measurements(
  L: DiceLayout,
  v: CborValue,
  where: string,
): Result<{ mval: CborMap; wrapped: boolean }> {
  if (!isTagged(v, L.tag.conciseEvidence)) {
    return failAt(where, `expected concise evidence (CBOR tag ${L.tag.conciseEvidence})`);
  }
  let ce = v.value as CborValue;
  const wrapped = isBytes(ce);
  if (isBytes(ce)) {
    const d = decodeCbor(ce, L.maxDepth);
    if (!d.ok) {
      return failAt(where, `the embedded concise evidence is not one CBOR item: ${d.message}`);
    }
    ce = d.value;
  }
  if (!isMap(ce)) return failAt(where, "the concise evidence is not a map");
  const evTriples = mapGet(ce, L.concise.evTriples);
  const triples = isMap(evTriples) ? mapGet(evTriples, L.concise.evidenceTriples) : undefined;
  if (!Array.isArray(triples) || triples.length === 0) {
    return failAt(where, "no evidence triples (keys 0 then 0)");
  }
  const triple = triples[0];
  if (!Array.isArray(triple) || triple.length < 2) {
    return failAt(where, "the first evidence triple is not [environment, measurements]");
  }
  const list = triple[L.concise.measurements];
  if (!Array.isArray(list) || list.length === 0) {
    return failAt(where, "the first evidence triple has no measurement");
  }
  const mval = isMap(list[0]) ? mapGet(list[0], L.measurement.mval) : undefined;
  if (!isMap(mval)) {
    return failAt(where, "the first measurement has no measurement-values map (key 1)");
  }
  return ok({ mval, wrapped });
}

function evidence(L: DiceLayout, submod: CborValue, where: string): Result<Evidence> {
  if (isMap(submod) && mapGet(submod, L.entry.origin) !== undefined) {
    const o = measurements(L, mapGet(submod, L.entry.origin)!, `${where}.origin`);
    if (!o.ok) return o;
    const cur = mapGet(submod, L.entry.current) ?? mapGet(submod, L.entry.currentAlt);
    let current: CborMap | undefined;
    if (cur !== undefined) {
      const c = measurements(L, cur, `${where}.current`);
      if (!c.ok) return c;
      current = c.value.mval;
    }
    return ok({ origin: o.value.mval, current, sample: !o.value.wrapped });
  }
  const direct = measurements(L, submod, where);
  if (!direct.ok) return direct;
  return ok({ origin: direct.value.mval, current: undefined, sample: true });
}

export function parseClaims(L: DiceLayout, payload: Uint8Array): Result<DiceClaims> {
  const spec = L.spec;
  const d = decodeCbor(payload, L.maxDepth);
  if (!d.ok) return failAt("", `the payload is not one CBOR item: ${d.message}`);
  if (!isMap(d.value)) return failAt("", "the payload is not a map of claims");
  const claims = d.value;
  const text = (k: number) => {
    const v = mapGet(claims, k);
    return typeof v === "string" ? v : undefined;
  };
  const ep = mapGet(claims, L.claim.eatProfile);
  const eatProfile = typeof ep === "string" ? ep : isBytes(ep) ? oidFromContent(ep) : undefined;

  const reportData = mapGet(claims, L.claim.reportData);
  if (!isBytes(reportData)) {
    return failAt("report_data", "no report_data claim (-212) holding a byte string");
  }
  const submods = mapGet(claims, L.claim.submods);
  if (!isMap(submods)) return failAt("submods", "no submodule claim (-11) holding a map");

  const forms = new Set<boolean>();
  const found = (s: Submodule) => {
    const k = L.submodule[s];
    const sample = mapGet(submods, k.sampleKey);
    if (sample !== undefined) forms.add(true);
    const v = sample ?? mapGet(submods, k.key);
    if (v !== undefined && sample === undefined) forms.add(false);
    return v;
  };
  const ev = new Map<Submodule, Evidence>();
  for (const s of ["platform_tcb", "seam", "td_quote_body", "service_td"] as const) {
    const v = found(s);
    if (v === undefined) {
      if (s === "seam") continue;
      return failAt(`submods.${s}`, `no ${s} submodule`, L.submodule[s].key);
    }
    const e = evidence(L, v, `submods.${s}`);
    if (!e.ok) return e;
    forms.add(e.value.sample);
    ev.set(s, e.value);
  }
  const platform = ev.get("platform_tcb")!;

  const body = new Uint8Array(structSize(spec, L.bodyStruct));
  const put = (field: string, bytes: Uint8Array, where: string): Result<never> | undefined => {
    const size = fieldSize(spec, L.bodyStruct, field);
    if (bytes.length !== size) {
      return failAt(where, `${field} has the wrong size`, `${size} bytes`, `${bytes.length} bytes`);
    }
    body.set(bytes, fieldOffset(spec, L.bodyStruct, field));
  };
  const r = put("report_data", reportData, "report_data");
  if (r) return r;

  for (const p of L.places) {
    let map: CborMap | undefined;
    let key = p.key;
    let where = `submods.${p.submodule}.${p.entry}[${p.key}] (${p.field})`;
    if (p.submodule === "seam") {
      map = (ev.get("seam") ?? platform).origin;
      if (!ev.has("seam")) where = `submods.platform_tcb.origin[${p.key}] (${p.field})`;
    } else if (
      p.field === "tee_tcb_svn2" && mapGet(platform.origin, L.sampleTcbSvn2) !== undefined
    ) {
      map = platform.origin;
      key = L.sampleTcbSvn2;
      where = `submods.platform_tcb.origin[${key}] (${p.field})`;
      forms.add(true);
    } else {
      const e = ev.get(p.submodule)!;
      map = p.entry === "origin" ? e.origin : e.current;
    }
    if (!map) return failAt(where, `no ${p.entry} evidence for ${p.field}`);
    const v = mapGet(map, key);
    if (v === undefined) return failAt(where, `${p.field} is missing`);
    let bytes: Uint8Array | undefined;
    if (isBytes(v)) {
      bytes = v;
    } else if (p.form === "digest" && Array.isArray(v) && v.length === 2 && isBytes(v[1])) {
      bytes = v[1];
    } else if (p.form === "svns" && Array.isArray(v)) {
      const svns = v.map(asInteger);
      if (svns.some((x) => x === undefined || x < 0n || x > 0xFFn)) {
        return failAt(where, `${p.field} holds an element that is not an SVN (0..255)`);
      }
      bytes = Uint8Array.from(svns as bigint[], Number);
    }
    if (!bytes) {
      const want = {
        bytes: "a byte string",
        digest: "a byte string or [alg, bytes]",
        svns: "a byte string or an array of SVNs",
      };
      return failAt(where, `${p.field} has the wrong form`, want[p.form]);
    }
    const e = put(p.field, bytes, where);
    if (e) return e;
  }
  return ok({
    iss: text(L.claim.iss),
    sub: text(L.claim.sub),
    eatProfile,
    form: forms.size > 1 ? "mixed" : forms.has(true) ? "integration sample" : "specification",
    body: new StructCodec(spec).decode(L.bodyStruct, body).value,
  });
}
