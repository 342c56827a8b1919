// The DICE quote signer for the module model's TDH.QUOTE.GET (its QuoteSigner,
// impl/module/quote_signer.ts, matched structurally: impl/module does not import
// attestation, and this file does not import the module; a composition root hands one to
// the other). The input must be a TDREPORT_STRUCT the module made: its hashes are checked
// here and its MAC by `checkReport`, which only the module can answer (its report MAC key),
// so the composition root passes the module's check. The quote is the DICE quote of
// dice_quote_generate.ts, signed by the quoting alias key of the module identity in the
// report's TEE_TCB_INFO and the current key generation.
import type { Spec } from "../../spec/mod.ts";
import type { AttestError } from "../attest_error.ts";
import {
  type DiceQuoteGenerator,
  type DiceQuoteRequest,
  makeDiceQuoteGenerator,
} from "./dice_quote_generate.ts";

export interface DiceModuleSignerOptions {
  seed: Uint8Array;
  /** True when the report's MAC is the module's (REPORTMACSTRUCT); no check when absent. */
  checkReport?: (tdreport: Uint8Array) => boolean;
  /** Quote options (certificate label, CWT tag, claims extras). */
  request?: DiceQuoteRequest;
}

export interface DiceModuleSigner {
  readonly generator: DiceQuoteGenerator;
  /** The current quoting key generation (0 until the first renewal). */
  readonly generation: number;
  /**
   * The DICE quote for the guest's input, or an empty array when the input is not a
   * TDREPORT of this module: the QuoteSigner interface has no error channel, and an empty
   * quote is what Linux refuses (it checks the returned length is not 0).
   */
  sign(tdreport: Uint8Array): Uint8Array;
  /** The quote or why there is none. */
  quote(tdreport: Uint8Array): { ok: true; value: Uint8Array } | { ok: false; error: AttestError };
  /** A new quoting key, as TDH.QUOTE.INIT makes after a module update. */
  renewKeys(): void;
}

export function diceModuleSigner(spec: Spec, options: DiceModuleSignerOptions): DiceModuleSigner {
  const generator = makeDiceQuoteGenerator(spec, options.seed);
  let generation = 0;
  const quote = (tdreport: Uint8Array) => {
    if (options.checkReport && !options.checkReport(tdreport)) {
      return {
        ok: false as const,
        error: {
          kind: "invalid" as const,
          field: "REPORTMACSTRUCT.mac",
          message: "the TDREPORT's MAC is not this module's",
        },
      };
    }
    return generator.generate(tdreport, { ...options.request, generation });
  };
  return {
    generator,
    get generation() {
      return generation;
    },
    quote,
    sign(tdreport) {
      const q = quote(tdreport);
      return q.ok ? q.value : new Uint8Array(0);
    },
    renewKeys() {
      generation++;
    },
  };
}
