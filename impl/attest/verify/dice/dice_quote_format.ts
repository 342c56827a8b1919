// The DICE TD quote of the TDX Quoting extension (CBOR COSE_Sign1, ES384): parse strictly,
// verify the signature over the COSE Sig_structure with the key of the chain's end-entity
// certificate, verify the chain to the DICE root (the DCP DICE Global Root CA unless
// another is given), then the TD policy (debug TD, expected values) on the claims mapped
// to a TD_QUOTE_BODY_1_5. There is no TCB status: no public source describes collateral
// for these quotes.
import { bytesToHex } from "../../../spec/hex.ts";
import { decodeBits } from "../../../spec/bits.ts";
import { theSpec } from "../../../spec/mod.ts";
import type { DecodedStruct } from "../../../spec/codec.ts";
import { diceLayout } from "../../dice/dice_layout.ts";
import { type CheckName, type CheckOutcome, type Reason, reason } from "../reason.ts";
import { debugReasons, expectReasons } from "../td_policy.ts";
import type { DecodedView, QuoteVerification, VerifyOptions } from "../verification.ts";
import { tcbInfoView } from "./dice_cert.ts";
import { checkDiceChain, type DiceChain, diceValidityReasons } from "./dice_chain.ts";
import { type DiceQuote, looksLikeDiceQuote, parseDiceQuote } from "./dice_parse.ts";
import { verifyEs384 } from "./es384.ts";
import { dcpDiceRoot } from "./dice_trust_root.ts";

export const DICE_FORMAT = "dice-es384-quote";
const DESCRIPTION = "DICE quote, CBOR COSE_Sign1 signed with ES384 (TDX Quoting extension)";

const ORDER: CheckName[] = [
  "parse",
  "quote_signature",
  "dice_chain",
  "tcb_status",
  "debug",
  "expect",
];

function printable(v: unknown): string | number {
  if (v instanceof Uint8Array) return bytesToHex(v);
  if (typeof v === "bigint") return `0x${v.toString(16).padStart(16, "0")}`;
  if (typeof v === "number") return v;
  return String(v);
}

function flags(bitfield: string, value: bigint): string {
  const fields = theSpec().bitfield(bitfield).fields;
  const decoded = decodeBits(fields, value);
  const set = fields.filter((f) => !f.reserved && decoded.fields[f.name] !== 0n).map((f) => f.name);
  if (decoded.undefinedBits) set.push(`undefined bits 0x${decoded.undefinedBits.toString(16)}`);
  return set.join(" ");
}

function decodedView(q: DiceQuote, inputSize: number, chain: DiceChain | undefined): DecodedView {
  const L = diceLayout();
  const body: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(q.claims.body as DecodedStruct)) body[k] = printable(v);
  body.td_attributes_flags = flags("TD_ATTRIBUTES", q.claims.body.td_attributes as bigint);
  body.xfam_flags = flags("XFAM", q.claims.body.xfam as bigint);
  const view: DecodedView = {
    quote: {
      input_size: inputSize,
      cwt_tag: q.cwtTagged ? "yes (tag 61)" : "no (bare COSE_Sign1)",
      alg: `${q.alg} (ES384)`,
      protected_header: bytesToHex(q.protectedBytes),
      certificates: `${q.certs.length} under ${q.certLabel} (label ${L.header[q.certLabel]})${
        q.bothCertLabels ? ", x5chain also present (ignored)" : ""
      }`,
      kid: q.kid ? bytesToHex(q.kid) : "none",
      content_type: q.contentType ?? "none",
      payload_size: q.payloadBytes.length,
      claims_form: q.claims.form,
      body_struct: L.bodyStruct,
    },
    claims: {
      iss: q.claims.iss ?? "none",
      sub: q.claims.sub ?? "none",
      eat_profile: q.claims.eatProfile ?? "none",
    },
    body,
    signature: { es384_signature: bytesToHex(q.signature) },
  };
  chain?.path.forEach((c, i) => {
    const section: Record<string, string | number> = {
      subject: c.subjectCN,
      issuer: c.issuerCN,
      serial: c.serialHex,
    };
    const tcb = tcbInfoView(c);
    if (tcb === null) section.tcb_info = "malformed";
    for (const [k, v] of Object.entries(tcb ?? {})) section[`tcb_info.${k}`] = v;
    view[`certificate[${i}]`] = section;
  });
  return view;
}

function outcomes(reasons: Reason[], notes: Map<CheckName, CheckOutcome>): CheckOutcome[] {
  return ORDER.map((check) =>
    reasons.some((r) => r.check === check)
      ? { check, status: "fail" }
      : notes.get(check) ?? { check, status: "pass" }
  );
}

async function verify(bytes: Uint8Array, options: VerifyOptions): Promise<QuoteVerification> {
  const parsed = parseDiceQuote(bytes);
  if (!parsed.ok) {
    return {
      ok: false,
      format: DICE_FORMAT,
      formatDescription: DESCRIPTION,
      checks: [{ check: "parse", status: "fail" }],
      reasons: parsed.reasons,
    };
  }
  const q = parsed.value;
  const notes = new Map<CheckName, CheckOutcome>();
  const skip = (check: CheckName, note: string) =>
    notes.set(check, { check, status: "skip", note });
  const reasons: Reason[] = [];

  const chain = await checkDiceChain(q.certs, q.certLabel, options.root);
  reasons.push(...chain.reasons, ...diceValidityReasons(chain, options.root, options.at));
  if (!chain.leafKey) {
    skip("quote_signature", "no usable P-384 key in the end-entity certificate");
  } else if (!(await verifyEs384(chain.leafKey, q.signature, q.signedBytes))) {
    reasons.push(reason(
      "quote_signature",
      "the ES384 signature does not verify over the COSE Sig_structure with the end-entity key",
      { field: "signature" },
    ));
  }
  skip(
    "tcb_status",
    options.collateral
      ? "collateral is for ECDSA quotes; DICE quotes have no public TCB collateral"
      : "DICE quotes have no public TCB collateral",
  );
  reasons.push(...debugReasons(q.claims.body, options.allowDebug));
  if (options.allowDebug) {
    notes.set("debug", { check: "debug", status: "pass", note: "debug TD allowed" });
  }
  reasons.push(...expectReasons(options.expect, diceLayout().bodyStruct, q.claims.body, undefined));
  if (options.expect.length === 0) skip("expect", "nothing expected");
  return {
    ok: reasons.length === 0,
    format: DICE_FORMAT,
    formatDescription: DESCRIPTION,
    decoded: decodedView(q, bytes.length, chain),
    checks: outcomes(reasons, notes),
    reasons,
  };
}

export const diceQuoteFormat = {
  name: DICE_FORMAT,
  description: DESCRIPTION,
  detect: looksLikeDiceQuote,
  verify,
  defaultRoot: dcpDiceRoot,
};
