// What the DICE chain checks read from a certificate beyond x509_cert.ts's CertInfo: the
// raw P-384 signature, the key usage bits, and the TCG DiceTcbInfo extension (for the
// decoded view). Malformed values give undefined, never an exception.
import * as pkijs from "pkijs";
import { theSpec } from "../../../spec/mod.ts";
import { equalBytes } from "../byte_ops.ts";
import { bytesToHex, parseHex } from "../../../spec/hex.ts";
import { bitStringBytes, decodeDer, isType, oidText, smallInteger, stringValue } from "../der.ts";
import type { CertInfo } from "../x509_cert.ts";
import { tcbInfoTag, tcgDiceOid } from "../../dice/dice_oids.ts";

let ecdsaSha384: Uint8Array | undefined;

/**
 * True when both AlgorithmIdentifiers - the outer signatureAlgorithm and the TBS
 * signature field, which RFC 5280 section 4.1.1.2 requires to be equal - are
 * ecdsa-with-SHA384 without parameters (RFC 5758 section 3.2).
 */
export function signedWithEcdsaSha384(cert: CertInfo): boolean {
  ecdsaSha384 ??= new Uint8Array(
    new pkijs.AlgorithmIdentifier({
      algorithmId: pkijs.getCrypto(true).getOIDByAlgorithm(
        { name: "ECDSA", hash: { name: "SHA-384" } } as Algorithm,
        true,
      ),
    }).toSchema().toBER(),
  );
  const top = decodeDer(cert.der);
  const tbs = top?.children[0];
  if (!top || top.children.length !== 3 || !isType(tbs, "SEQUENCE")) return false;
  const inner = tbs.children[tbs.children[0]?.type === "[0]" ? 2 : 1];
  return equalBytes(top.children[1].raw, ecdsaSha384) && !!inner &&
    equalBytes(inner.raw, ecdsaSha384);
}

/** The certificate's signatureValue converted by `toRaw`, or undefined. */
export function certSignature(
  cert: CertInfo,
  toRaw: (der: Uint8Array) => Uint8Array | undefined,
): Uint8Array | undefined {
  const top = decodeDer(cert.der);
  const bits = bitStringBytes(top?.children[2]);
  return bits ? toRaw(bits) : undefined;
}

function x509Oid(name: string): string {
  return theSpec().enum("X509_OID").values
    .filter((v) => v.name.startsWith(`${name}.`))
    .sort((a, b) => Number(a.name.slice(name.length + 1)) - Number(b.name.slice(name.length + 1)))
    .map((v) => parseHex(v.value).toString())
    .join(".");
}

let keyUsageOid: string | undefined;

/** RFC 5280 section 4.2.1.3 bit numbers. */
export const KEY_USAGE_BIT = { digitalSignature: 0, keyCertSign: 5 } as const;

/**
 * The key usage bits (bit n of the named BIT STRING), undefined when the certificate has
 * no key usage extension, null when it is malformed.
 */
export function keyUsage(cert: CertInfo): Set<number> | undefined | null {
  keyUsageOid ??= x509Oid("KEY_USAGE");
  const raw = cert.extensions.get(keyUsageOid);
  if (!raw) return undefined;
  const n = decodeDer(raw);
  if (!isType(n, "BIT_STRING") || n.value.length < 1 || n.value[0] > 7) return null;
  const bits = new Set<number>();
  n.value.subarray(1).forEach((byte, i) => {
    for (let b = 0; b < 8; b++) if (byte & (0x80 >> b)) bits.add(8 * i + b);
  });
  return bits;
}

/** A DiceTcbInfo, printable: member name to text (FWIDs as "hashOid:hex"). */
export type TcbInfoView = Record<string, string>;

/** The certificate's tcg-dice-TcbInfo as text, undefined without one, null when malformed. */
export function tcbInfoView(cert: CertInfo): TcbInfoView | undefined | null {
  const raw = cert.extensions.get(tcgDiceOid("TCB_INFO"));
  if (!raw) return undefined;
  const seq = decodeDer(raw);
  if (!isType(seq, "SEQUENCE")) return null;
  const out: TcbInfoView = {};
  const tags = new Map<string, string>(
    theSpec().enum("DICE_TCB_INFO_FIELD").values.map((v) => [`[${tcbInfoTag(v.name)}]`, v.name]),
  );
  for (const m of seq.children) {
    const name = tags.get(m.type);
    if (!name) return null;
    const key = name.toLowerCase();
    if (name === "VENDOR" || name === "MODEL" || name === "VERSION") {
      out[key] = stringValue({ ...m, type: "UTF8String" }) ?? bytesToHex(m.value);
    } else if (name === "SVN" || name === "LAYER" || name === "INDEX") {
      const v = smallInteger({ ...m, type: "INTEGER" });
      out[key] = v === undefined ? `0x${bytesToHex(m.value)}` : String(v);
    } else if (name === "FWIDS") {
      const fwids: string[] = [];
      for (const f of m.children) {
        const [alg, digest] = f.children;
        if (!isType(f, "SEQUENCE") || !isType(alg, "OBJECT_IDENTIFIER")) return null;
        if (!isType(digest, "OCTET_STRING")) return null;
        fwids.push(`${oidText(alg)}:${bytesToHex(digest.value)}`);
      }
      out[key] = fwids.join(" ");
    } else {
      out[key] = bytesToHex(m.value);
    }
  }
  return out;
}
