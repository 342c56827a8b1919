// The bytes an ES384 DICE quote signature covers: the COSE Sig_structure of a COSE_Sign1
// (RFC 9052 section 4.4; spec DICE_QUOTE_SIG_STRUCTURE), deterministically encoded, with
// the protected header and payload byte strings exactly as they appear in the quote.
import { encodeCbor } from "./cbor.ts";

/** RFC 9052's context text for a COSE_Sign1 signature (DICE_QUOTE_SIG_STRUCTURE.context). */
const CONTEXT = "Signature1";

export function sigStructure(protectedHeader: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor([CONTEXT, protectedHeader, new Uint8Array(0), payload]);
}
