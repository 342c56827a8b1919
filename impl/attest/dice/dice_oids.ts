// Dotted object identifiers of the TCG DICE certificate extensions, from the spec's
// arc-per-value TCG_DICE_OID enum (tcg-dice = TCG_DICE.1 .. TCG_DICE.5, then the
// extension's own arc).
import { theSpec } from "../../spec/mod.ts";
import { parseHex } from "../../spec/hex.ts";

const ENUM = "TCG_DICE_OID";
const BASE = "TCG_DICE.";

export type TcgDiceExtension = "TCB_INFO" | "UEID" | "MULTI_TCB_INFO";

function base(): string {
  return theSpec().enum(ENUM).values
    .filter((v) => v.name.startsWith(BASE))
    .sort((a, b) => Number(a.name.slice(BASE.length)) - Number(b.name.slice(BASE.length)))
    .map((v) => parseHex(v.value).toString())
    .join(".");
}

export function tcgDiceOid(extension: TcgDiceExtension): string {
  return `${base()}.${theSpec().enumValue(ENUM, extension)}`;
}

/** The context tag number of a DiceTcbInfo member (DICE_TCB_INFO_FIELD). */
export function tcbInfoTag(member: string): number {
  return Number(theSpec().enumValue("DICE_TCB_INFO_FIELD", member));
}
