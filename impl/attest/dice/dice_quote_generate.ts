// DICE TD quote generation, what the TDX module's Quoting extension (TDH.QUOTE.GET) does,
// with the test DICE PKI: the TDREPORT becomes a TD_QUOTE_BODY_1_5, the body becomes CWT
// claims, the module's quoting alias key signs the COSE Sig_structure with ES384 (P-384,
// SHA-384, RFC 6979 nonces, so the same seed and report give the same bytes), and the
// certificate chain rides in the unprotected header. Layout: tag 61 (CWT) around tag 18
// (COSE_Sign1) around [protected {1: -35}, unprotected {32: [alias, DeviceID, platform
// CA]}, payload, signature] - spec items DICE_QUOTE_*. Provisional choices: the chain is
// written under x5bag (label 32, what go-tdx-guest writes when it re-encodes a quote),
// leaf first, without the root; no kid, content type or eat_profile unless asked for.
import type { Spec } from "../../spec/mod.ts";
import type { DecodedStruct } from "../../spec/codec.ts";
import type { Result } from "../attest_error.ts";
import { signRaw } from "../quote/ecdsa_p256.ts";
import {
  decodeTdreport,
  quoteBodyFromTdreport,
  type TdreportCheck,
} from "../quote/td_quote_body.ts";
import { encodeCbor, Tagged } from "./cbor.ts";
import { type ClaimsOptions, encodeClaims } from "./claims_encode.ts";
import { type DiceLayout, diceLayout } from "./dice_layout.ts";
import { type DicePki, makeDicePki, type ModuleIdentity } from "./dice_pki.ts";
import { sigStructure } from "./sig_structure.ts";

export interface DiceQuoteRequest extends TdreportCheck, ClaimsOptions {
  /** COSE label of the certificates (default x5bag). */
  certLabel?: "x5bag" | "x5chain";
  /** Leave the CWT tag out: a bare tagged COSE_Sign1. */
  bare?: boolean;
  /** Key generation of the quoting alias (TDH.QUOTE.INIT renewals); default 0. */
  generation?: number;
  /** Extra unprotected header parameters (kid, content type), by label. */
  unprotected?: Map<number, unknown>;
}

export interface DiceQuoteGenerator {
  readonly seed: Uint8Array;
  readonly pki: DicePki;
  /** A signed DICE quote for a 1024-byte TDREPORT, or why there can be none. */
  generate(tdreport: Uint8Array, request?: DiceQuoteRequest): Result<Uint8Array>;
  /** A signed DICE quote for a TD_QUOTE_BODY_1_5 (decoded). */
  fromBody(body: DecodedStruct, request?: DiceQuoteRequest): Uint8Array;
}

function protectedHeader(L: DiceLayout): Uint8Array {
  return encodeCbor(new Map([[L.header.alg, L.es384]]));
}

export function makeDiceQuoteGenerator(spec: Spec, seed: Uint8Array): DiceQuoteGenerator {
  const L = diceLayout();
  const pki = makeDicePki(spec, seed);
  const protectedBytes = protectedHeader(L);

  function fromBody(body: DecodedStruct, request: DiceQuoteRequest = {}): Uint8Array {
    const module: ModuleIdentity = {
      mrSeam: body.mr_seam as Uint8Array,
      teeTcbSvn: body.tee_tcb_svn as Uint8Array,
      generation: request.generation,
    };
    const alias = pki.alias(module);
    const payload = encodeClaims(L, body, request);
    const signature = signRaw(alias.key, sigStructure(protectedBytes, payload));
    const unprotected = new Map<number, unknown>(request.unprotected ?? []);
    unprotected.set(
      request.certLabel === "x5chain" ? L.header.x5chain : L.header.x5bag,
      [alias.der, pki.deviceId.der, pki.platformCa.der],
    );
    const sign1 = new Tagged(L.tag.coseSign1, [protectedBytes, unprotected, payload, signature]);
    return encodeCbor(request.bare ? sign1 : new Tagged(L.tag.cwt, sign1));
  }

  function generate(tdreport: Uint8Array, request: DiceQuoteRequest = {}): Result<Uint8Array> {
    const report = decodeTdreport(spec, tdreport, request);
    if (!report.ok) return report;
    const body = quoteBodyFromTdreport(spec, report.value, L.bodyStruct);
    return { ok: true, value: fromBody(body, request) };
  }

  return { seed, pki, generate, fromBody };
}
