// Distinguished names for the test certificates. The attribute types are the X.520
// ones RFC 5280 requires every implementation to know (not TDX facts, so not in spec/);
// Intel's SGX certificates use CN, O, L, ST and C in that order, and so do these.
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

const ATTRIBUTE = {
  CN: "2.5.4.3",
  O: "2.5.4.10",
  L: "2.5.4.7",
  ST: "2.5.4.8",
  C: "2.5.4.6",
} as const;

export interface TestName {
  CN: string;
  O: string;
  L: string;
  ST: string;
  C: string;
}

export function x509Name(name: TestName): pkijs.RelativeDistinguishedNames {
  // One SET per attribute, as Intel's names have; pkijs on its own would put all the
  // attributes in one multi-valued SET, so the DER is built here and parsed back.
  const rdns = (Object.keys(ATTRIBUTE) as (keyof TestName)[]).map((k) =>
    new asn1js.Set({
      value: [
        new pkijs.AttributeTypeAndValue({
          type: ATTRIBUTE[k],
          // countryName is a PrintableString (RFC 5280 appendix A); the rest UTF8String.
          value: k === "C"
            ? new asn1js.PrintableString({ value: name[k] })
            : new asn1js.Utf8String({ value: name[k] }),
        }).toSchema(),
      ],
    })
  );
  return pkijs.RelativeDistinguishedNames.fromBER(new asn1js.Sequence({ value: rdns }).toBER());
}

/** The common name of a parsed name, when it has one. */
export function commonName(name: pkijs.RelativeDistinguishedNames): string | undefined {
  const cn = name.typesAndValues.find((t) => t.type === ATTRIBUTE.CN);
  return cn ? String(cn.value.valueBlock.value) : undefined;
}
