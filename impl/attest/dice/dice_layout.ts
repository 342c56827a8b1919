// What the DICE quote code asks the spec, gathered once: CBOR tags, COSE labels and the
// algorithm, the CWT claim keys, the submodule OID keys, the CoRIM map keys and where
// each TD_QUOTE_BODY_1_5 field sits in the claims. The generator and the verifier read
// the same table, so they cannot drift apart; the spec items are DICE_QUOTE_*.
import type { Spec } from "../../spec/mod.ts";
import { theSpec } from "../../spec/mod.ts";
import type { StructItem } from "../../spec/types.ts";

type Key = number | string;

function keyOf(s: StructItem, name: string): Key {
  const f = s.fields.find((x) => x.name === name);
  if (!f || f.key === undefined) throw new Error(`${s.name} has no keyed member ${name}`);
  return f.key;
}

function keys<N extends string>(spec: Spec, struct: string, names: readonly N[]): Record<N, Key> {
  const s = spec.struct(struct);
  return Object.fromEntries(names.map((n) => [n, keyOf(s, n)])) as Record<N, Key>;
}

const num = (k: Key) => k as number;

/** The submodules of the claims, by DICE_QUOTE_SUBMODULES member name. */
export type Submodule = "platform_tcb" | "seam" | "td_quote_body" | "service_td";
export type Entry = "origin" | "current";

/** Where a TD_QUOTE_BODY_1_5 field is carried in the claims. */
export interface ClaimPlace {
  field: string;
  submodule: Submodule;
  entry: Entry;
  /** DICE_QUOTE_MEASUREMENT_VALUES member. */
  value: string;
  key: number;
  /** How the value is written: a byte string, a CoRIM digest, or 16 SVNs. */
  form: "bytes" | "digest" | "svns";
}

// go-tdx-guest parseDiceCWTPayload's mapping (spec: DICE_QUOTE_SUBMODULES notes), by names.
const PLACES: [string, Submodule, Entry, string, ClaimPlace["form"]][] = [
  ["tee_tcb_svn", "platform_tcb", "origin", "tee_tcb_svn", "svns"],
  ["tee_tcb_svn2", "platform_tcb", "current", "tee_tcb_svn", "svns"],
  ["seam_attributes", "seam", "origin", "attributes", "bytes"],
  ["mr_seam", "seam", "origin", "primary_digest", "digest"],
  ["mr_signer_seam", "seam", "origin", "mr_signer_seam", "digest"],
  ["td_attributes", "td_quote_body", "origin", "attributes", "bytes"],
  ["xfam", "td_quote_body", "origin", "xfam", "bytes"],
  ["mr_td", "td_quote_body", "origin", "primary_digest", "digest"],
  ["mr_config_id", "td_quote_body", "origin", "mr_config_id", "digest"],
  ["mr_owner", "td_quote_body", "origin", "mr_owner", "digest"],
  ["mr_owner_config", "td_quote_body", "origin", "mr_owner_config", "digest"],
  ["rtmr0", "td_quote_body", "origin", "rtmr0", "digest"],
  ["rtmr1", "td_quote_body", "origin", "rtmr1", "digest"],
  ["rtmr2", "td_quote_body", "origin", "rtmr2", "digest"],
  ["rtmr3", "td_quote_body", "origin", "rtmr3", "digest"],
  ["mr_servicetd", "service_td", "origin", "mr_servicetd", "digest"],
];

export interface DiceLayout {
  spec: Spec;
  bodyStruct: "TD_QUOTE_BODY_1_5";
  tag: { cwt: number; coseSign1: number; conciseEvidence: number };
  /** COSE alg value ES384 (negative). */
  es384: number;
  signatureSize: number;
  maxDepth: number;
  header: { alg: number; contentType: number; kid: number; x5bag: number; x5chain: number };
  claim: { iss: number; sub: number; eatProfile: number; reportData: number; submods: number };
  /** Spec-form and sample-form OID keys of each submodule (the sample's is tried first, as go-tdx-guest does). */
  submodule: Record<Submodule, { key: string; sampleKey: string }>;
  entry: { origin: string; current: string; currentAlt: string };
  concise: {
    evTriples: number;
    evidenceTriples: number;
    environment: number;
    measurements: number;
  };
  environment: { class: number };
  class: { vendor: number; model: number };
  measurement: { mval: number };
  /** Key -153: TEE_TCB_SVN2 in the integration sample's origin map. */
  sampleTcbSvn2: number;
  /** report_data is a claim of its own; every other body field has a place. */
  places: ClaimPlace[];
}

function build(spec: Spec): DiceLayout {
  const sign1 = spec.struct("DICE_QUOTE_COSE_SIGN1");
  const sigField = sign1.fields.find((f) => f.name === "signature");
  if (!sigField?.size) throw new Error("DICE_QUOTE_COSE_SIGN1.signature has no size");
  const label = (n: string) => Number(spec.enumValue("COSE_HEADER_LABEL", n));
  const claims = keys(spec, "DICE_QUOTE_CLAIMS", [
    "iss",
    "sub",
    "eat_profile",
    "report_data",
    "submods",
  ]);
  const subs = keys(spec, "DICE_QUOTE_SUBMODULES", [
    "platform_tcb",
    "seam",
    "td_quote_body",
    "service_td",
    "platform_tcb_sample",
    "seam_sample",
    "td_quote_body_sample",
    "service_td_sample",
  ]);
  const entry = keys(spec, "DICE_QUOTE_SUBMODULE_EVIDENCE", ["origin", "current", "current_alt"]);
  const values = spec.struct("DICE_QUOTE_MEASUREMENT_VALUES");
  const sub = (n: Submodule) => ({
    key: String(subs[n]),
    sampleKey: String(subs[`${n}_sample` as keyof typeof subs]),
  });
  return {
    spec,
    bodyStruct: "TD_QUOTE_BODY_1_5",
    tag: {
      cwt: Number(spec.enumValue("CBOR_TAG", "CWT")),
      coseSign1: Number(spec.enumValue("CBOR_TAG", "COSE_SIGN1")),
      conciseEvidence: Number(spec.enumValue("CBOR_TAG", "CONCISE_EVIDENCE")),
    },
    es384: Number(BigInt.asIntN(64, spec.enumValue("COSE_ALGORITHM", "ES384"))),
    signatureSize: sigField.size,
    maxDepth: Number(spec.enumValue("DICE_QUOTE_LIMIT", "MAX_CBOR_DEPTH")),
    header: {
      alg: label("ALG"),
      contentType: label("CONTENT_TYPE"),
      kid: label("KID"),
      x5bag: label("X5BAG"),
      x5chain: label("X5CHAIN"),
    },
    claim: {
      iss: num(claims.iss),
      sub: num(claims.sub),
      eatProfile: num(claims.eat_profile),
      reportData: num(claims.report_data),
      submods: num(claims.submods),
    },
    submodule: {
      platform_tcb: sub("platform_tcb"),
      seam: sub("seam"),
      td_quote_body: sub("td_quote_body"),
      service_td: sub("service_td"),
    },
    entry: {
      origin: String(entry.origin),
      current: String(entry.current),
      currentAlt: String(entry.current_alt),
    },
    concise: {
      evTriples: num(keyOf(spec.struct("DICE_QUOTE_CONCISE_EVIDENCE"), "ev_triples")),
      evidenceTriples: num(keyOf(spec.struct("DICE_QUOTE_EV_TRIPLES"), "evidence_triples")),
      environment: num(keyOf(spec.struct("DICE_QUOTE_EVIDENCE_TRIPLE"), "environment")),
      measurements: num(keyOf(spec.struct("DICE_QUOTE_EVIDENCE_TRIPLE"), "measurements")),
    },
    environment: { class: num(keyOf(spec.struct("DICE_QUOTE_ENVIRONMENT"), "class")) },
    class: {
      vendor: num(keyOf(spec.struct("DICE_QUOTE_CLASS"), "vendor")),
      model: num(keyOf(spec.struct("DICE_QUOTE_CLASS"), "model")),
    },
    measurement: { mval: num(keyOf(spec.struct("DICE_QUOTE_MEASUREMENT_MAP"), "mval")) },
    sampleTcbSvn2: num(keyOf(values, "tee_tcb_svn2_sample")),
    places: PLACES.map(([field, submodule, e, value, form]) => {
      if (!spec.struct("TD_QUOTE_BODY_1_5").fields.some((f) => f.name === field)) {
        throw new Error(`TD_QUOTE_BODY_1_5 has no field ${field}`);
      }
      return { field, submodule, entry: e, value, key: num(keyOf(values, value)), form };
    }),
  };
}

let cached: DiceLayout | undefined;

export function diceLayout(): DiceLayout {
  return cached ??= build(theSpec());
}
