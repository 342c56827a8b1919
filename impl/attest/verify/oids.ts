// Dotted object identifiers built from the spec's arc-per-value OID enums
// (SGX_PCK_EXTENSION_OID, X509_OID).
import { theSpec } from "../../spec/mod.ts";
import { parseHex } from "../../spec/hex.ts";

function arcs(enumName: string, prefix: string): string[] {
  return theSpec().enum(enumName).values
    .filter((v) => v.name.startsWith(`${prefix}.`) && /^\d+$/.test(v.name.slice(prefix.length + 1)))
    .sort((a, b) =>
      Number(a.name.slice(prefix.length + 1)) - Number(b.name.slice(prefix.length + 1))
    )
    .map((v) => parseHex(v.value).toString());
}

function arc(enumName: string, name: string): string {
  return theSpec().enumValue(enumName, name).toString();
}

export interface SgxOids {
  extension: string;
  ppid: string;
  tcb: string;
  pceId: string;
  fmspc: string;
  sgxType: string;
  /** TCB.COMP01_SVN .. TCB.COMP16_SVN in order. */
  tcbComponents: string[];
  pceSvn: string;
  cpuSvn: string;
  commonName: string;
  basicConstraints: string;
  ecdsaWithSha256: string;
}

function build(): SgxOids {
  const E = "SGX_PCK_EXTENSION_OID";
  const extension = arcs(E, "SGX_EXTENSIONS").join(".");
  const top = (n: string) => `${extension}.${arc(E, n)}`;
  const tcb = top("TCB");
  const components = theSpec().enum(E).values
    .filter((v) => /^TCB\.COMP\d+_SVN$/.test(v.name))
    .map((v) => `${tcb}.${parseHex(v.value)}`);
  return {
    extension,
    ppid: top("PPID"),
    tcb,
    pceId: top("PCE_ID"),
    fmspc: top("FMSPC"),
    sgxType: top("SGX_TYPE"),
    tcbComponents: components,
    pceSvn: `${tcb}.${arc(E, "TCB.PCESVN")}`,
    cpuSvn: `${tcb}.${arc(E, "TCB.CPUSVN")}`,
    commonName: arcs("X509_OID", "COMMON_NAME").join("."),
    basicConstraints: arcs("X509_OID", "BASIC_CONSTRAINTS").join("."),
    ecdsaWithSha256: arcs("X509_OID", "ECDSA_WITH_SHA256").join("."),
  };
}

let cached: SgxOids | undefined;

export function pckOids(): SgxOids {
  return cached ??= build();
}
