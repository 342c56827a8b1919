// The TCG DiceTcbInfo certificate extension (tcg-dice-TcbInfo) built with asn1js: a
// SEQUENCE of IMPLICIT context-tagged members (tags from DICE_TCB_INFO_FIELD), each
// optional. The FWID hash algorithm OID comes from pkijs's algorithm table.
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { tcbInfoTag } from "./dice_oids.ts";

export interface Fwid {
  /** WebCrypto hash name, e.g. "SHA-384". */
  hash: string;
  digest: Uint8Array;
}

export interface TcbInfo {
  vendor?: string;
  model?: string;
  version?: string;
  svn?: number;
  layer?: number;
  index?: number;
  fwids?: Fwid[];
  vendorInfo?: Uint8Array;
  type?: Uint8Array;
}

const CONTEXT_SPECIFIC = 3;

function implicit(member: string, content: Uint8Array): asn1js.Primitive {
  return new asn1js.Primitive({
    idBlock: { tagClass: CONTEXT_SPECIFIC, tagNumber: tcbInfoTag(member) },
    valueHex: content.slice().buffer,
  });
}

const utf8 = (s: string) => new TextEncoder().encode(s);
/** INTEGER content octets (two's complement, minimal). */
const intContent = (n: number) =>
  new Uint8Array(new asn1js.Integer({ value: n }).valueBlock.valueHexView);

export function hashOid(hash: string): string {
  return pkijs.getCrypto(true).getOIDByAlgorithm({ name: hash }, true);
}

/** DER of a DiceTcbInfo SEQUENCE: the extnValue of a tcg-dice-TcbInfo extension. */
export function encodeTcbInfo(t: TcbInfo): Uint8Array {
  const members: asn1js.BaseBlock[] = [];
  if (t.vendor !== undefined) members.push(implicit("VENDOR", utf8(t.vendor)));
  if (t.model !== undefined) members.push(implicit("MODEL", utf8(t.model)));
  if (t.version !== undefined) members.push(implicit("VERSION", utf8(t.version)));
  if (t.svn !== undefined) members.push(implicit("SVN", intContent(t.svn)));
  if (t.layer !== undefined) members.push(implicit("LAYER", intContent(t.layer)));
  if (t.index !== undefined) members.push(implicit("INDEX", intContent(t.index)));
  if (t.fwids !== undefined) {
    members.push(
      new asn1js.Constructed({
        idBlock: { tagClass: CONTEXT_SPECIFIC, tagNumber: tcbInfoTag("FWIDS") },
        value: t.fwids.map((f) =>
          new asn1js.Sequence({
            value: [
              new asn1js.ObjectIdentifier({ value: hashOid(f.hash) }),
              new asn1js.OctetString({ valueHex: f.digest.slice().buffer }),
            ],
          })
        ),
      }),
    );
  }
  if (t.vendorInfo !== undefined) members.push(implicit("VENDOR_INFO", t.vendorInfo));
  if (t.type !== undefined) members.push(implicit("TYPE", t.type));
  return new Uint8Array(new asn1js.Sequence({ value: members }).toBER());
}
