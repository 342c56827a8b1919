// Quote formats and the dispatch between them. The ECDSA-P256 quote (v4/v5) and the DICE
// quote of the TDX Quoting extension (CBOR COSE_Sign1, ES384) are built in; another format
// plugs in with registerQuoteFormat. A quote no format recognizes is refused with a
// structured "unsupported quote format" reason. Each format has its own default root (the
// Intel SGX Root CA, the DCP DICE Global Root CA), used when the caller gives none.
import { bytesToHex } from "../../spec/hex.ts";
import type { TrustAnchor } from "./cert_chain.ts";
import { diceQuoteFormat } from "./dice/dice_quote_format.ts";
import { ecdsaQuoteFormat } from "./ecdsa_quote_format.ts";
import { reason } from "./reason.ts";
import type { QuoteVerification, VerifyOptions, VerifyRequest } from "./verification.ts";

export interface QuoteFormat {
  /** Short stable name, reported as QuoteVerification.format. */
  readonly name: string;
  readonly description: string;
  /** Cheap test on the leading bytes; must not throw on any input. */
  detect(bytes: Uint8Array): boolean;
  /** Full verification; must not throw on any input. */
  verify(bytes: Uint8Array, options: VerifyOptions): Promise<QuoteVerification>;
  /** The trust anchor used when the caller gives none. */
  defaultRoot?(): Promise<TrustAnchor>;
}

const registry: QuoteFormat[] = [diceQuoteFormat, ecdsaQuoteFormat];

/**
 * Adds a format (replacing one of the same name); it is tried before the ones registered
 * earlier. Returns a function that removes it again.
 */
export function registerQuoteFormat(format: QuoteFormat): () => void {
  const i = registry.findIndex((f) => f.name === format.name);
  if (i >= 0) registry.splice(i, 1);
  registry.unshift(format);
  return () => {
    const j = registry.indexOf(format);
    if (j >= 0) registry.splice(j, 1);
  };
}

export function quoteFormats(): readonly QuoteFormat[] {
  return registry;
}

export function detectQuoteFormat(bytes: Uint8Array): QuoteFormat | undefined {
  return registry.find((f) => {
    try {
      return f.detect(bytes);
    } catch {
      return false;
    }
  });
}

export async function verifyQuote(
  bytes: Uint8Array,
  request: VerifyRequest,
): Promise<QuoteVerification> {
  const format = detectQuoteFormat(bytes);
  if (!format) {
    return {
      ok: false,
      format: undefined,
      checks: [{ check: "format", status: "fail" }],
      reasons: [reason("format", "unsupported quote format", {
        field: "leading bytes",
        expected: registry.map((f) => f.description).join("; "),
        actual: bytes.length ? bytesToHex(bytes.subarray(0, 8)) : "empty input",
      })],
    };
  }
  try {
    const root = request.root ?? await format.defaultRoot?.();
    if (!root) {
      return {
        ok: false,
        format: format.name,
        checks: [{ check: "format", status: "fail" }],
        reasons: [reason("format", `no trust anchor given and ${format.name} has no default root`)],
      };
    }
    return await format.verify(bytes, { ...request, root });
  } catch (e) {
    // A format module must not throw; if one does, it is still a failed verification.
    return {
      ok: false,
      format: format.name,
      checks: [{ check: "format", status: "fail" }],
      reasons: [
        reason("format", `internal error in the ${format.name} verifier: ${(e as Error)?.message}`),
      ],
    };
  }
}
