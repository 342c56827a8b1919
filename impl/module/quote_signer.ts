// Where TDH.QUOTE.GET's quote comes from. The real module signs with DICE keys derived in
// TDH.QUOTE.INIT; those keys and the quote layout belong to attestation, so the module
// model takes a signer from outside. Without one the module reports quoting unavailable
// rather than make up quote bytes.

export interface QuoteSigner {
  /** The quote (a CBOR COSE_Sign1 for the DICE format) for the guest's input data. */
  sign(tdreport: Uint8Array): Uint8Array;
}
