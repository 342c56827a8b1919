// Object identifiers of the SGX extensions in PCK certificates, assembled from the
// spec's SGX_PCK_EXTENSION_OID enum: the SGX_EXTENSIONS.n arcs, then one arc per
// level of the entry's dotted name (TCB.PCESVN = SGX extensions + TCB + PCESVN).
import type { Spec } from "../../spec/mod.ts";
import { parseHex } from "../../spec/hex.ts";

const ENUM = "SGX_PCK_EXTENSION_OID";
const BASE = "SGX_EXTENSIONS.";

/** The dotted OID of the SGX extension itself, or of one of its entries. */
export function sgxOid(spec: Spec, entry?: string): string {
  const values = spec.enum(ENUM).values;
  const base = values.filter((v) => v.name.startsWith(BASE))
    .sort((a, b) => Number(a.name.slice(BASE.length)) - Number(b.name.slice(BASE.length)))
    .map((v) => parseHex(v.value).toString());
  if (!entry) return base.join(".");
  const parts = entry.split(".");
  const arcs = parts.map((_, i) => {
    const name = parts.slice(0, i + 1).join(".");
    const v = values.find((x) => x.name === name);
    if (!v) throw new Error(`${ENUM} has no entry ${name}`);
    return parseHex(v.value).toString();
  });
  return [...base, ...arcs].join(".");
}

/** Names of the TCB component SVN entries, in order (COMP01 .. COMP16). */
export function tcbComponentEntries(spec: Spec): string[] {
  return spec.enum(ENUM).values.map((v) => v.name).filter((n) => /^TCB\.COMP\d+_SVN$/.test(n));
}
