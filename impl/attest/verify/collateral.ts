// Verification collateral in the shapes it comes in, normalized: dcap-qvl's collateral
// JSON (tcb_info, qe_identity, their signatures and issuer chains, pck_crl, root_ca_crl),
// Intel PCS responses ({"tcbInfo": ..., "signature"} and {"enclaveIdentity": ...,
// "signature"}), DER or PEM CRLs and PEM issuer chains. Loading problems are messages
// naming the file and field (bad input), not verification failures.
import { hexToBytes } from "../../spec/hex.ts";
import { rawJsonMember } from "./json_raw_member.ts";
import { pemBlocks, pemCertificates } from "./pem.ts";
import { parseCrl } from "./crl.ts";

/** A signed JSON document: the exact signed text and the raw r||s signature. */
export interface SignedJson {
  text: string;
  signature: Uint8Array;
  origin: string;
}

export interface Collateral {
  tcbInfo?: SignedJson;
  qeIdentity?: SignedJson;
  /** DER certificates, leaf (Intel SGX TCB Signing) first. */
  tcbInfoIssuerChain?: Uint8Array[];
  qeIdentityIssuerChain?: Uint8Array[];
  /** DER CRLs: the root CA CRL and PCK CRLs, told apart by issuer at verification. */
  crls: { der: Uint8Array; origin: string }[];
  origins: string[];
}

export function emptyCollateral(): Collateral {
  return { crls: [], origins: [] };
}

type Loaded = { ok: true } | { ok: false; error: string };
const bad = (error: string): Loaded => ({ ok: false, error });
const done: Loaded = { ok: true };

/** Bytes given as a hex string or an array of numbers (both occur in dcap-qvl JSON). */
function bytesField(v: unknown, where: string): Uint8Array | string {
  if (typeof v === "string") {
    const t = v.trim();
    if (t.startsWith("-----BEGIN")) {
      const blocks = pemBlocks(t);
      if (!blocks || blocks.length !== 1) return `${where}: not one PEM block`;
      return blocks[0].der;
    }
    try {
      return hexToBytes(t);
    } catch {
      return `${where}: not a hex string`;
    }
  }
  if (Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) {
    return Uint8Array.from(v as number[]);
  }
  return `${where}: expected a hex string or an array of bytes`;
}

function chainField(v: unknown, where: string): Uint8Array[] | string {
  const text = typeof v === "string"
    ? v
    : Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)
    ? new TextDecoder().decode(Uint8Array.from(v as number[]))
    : undefined;
  if (text === undefined) return `${where}: expected PEM text`;
  const certs = pemCertificates(text);
  if (!certs || certs.length === 0) return `${where}: no PEM certificates`;
  return certs;
}

function textField(v: unknown, where: string): string | { error: string } {
  if (typeof v === "string") return v;
  // Some tools store the object itself; its re-serialization is what must have been signed.
  if (v && typeof v === "object") return JSON.stringify(v);
  return { error: `${where}: expected the signed JSON text` };
}

function addDcapQvl(col: Collateral, obj: Record<string, unknown>, origin: string): Loaded {
  const at = (f: string) => `${origin}: field ${f}`;
  for (
    const [textKey, sigKey, chainKey, slot, chainSlot] of [
      ["tcb_info", "tcb_info_signature", "tcb_info_issuer_chain", "tcbInfo", "tcbInfoIssuerChain"],
      [
        "qe_identity",
        "qe_identity_signature",
        "qe_identity_issuer_chain",
        "qeIdentity",
        "qeIdentityIssuerChain",
      ],
    ] as const
  ) {
    if (obj[textKey] === undefined) continue;
    const text = textField(obj[textKey], at(textKey));
    if (typeof text !== "string") return bad(text.error);
    if (obj[sigKey] === undefined) return bad(`${at(sigKey)}: missing`);
    const sig = bytesField(obj[sigKey], at(sigKey));
    if (typeof sig === "string") return bad(sig);
    col[slot] = { text, signature: sig, origin: `${origin} (${textKey})` };
    if (obj[chainKey] !== undefined) {
      const chain = chainField(obj[chainKey], at(chainKey));
      if (typeof chain === "string") return bad(chain);
      col[chainSlot] = chain;
    }
  }
  for (const k of ["root_ca_crl", "pck_crl"]) {
    if (obj[k] === undefined) continue;
    const der = bytesField(obj[k], at(k));
    if (typeof der === "string") return bad(der);
    if (!parseCrl(der)) return bad(`${at(k)}: not a DER X.509 CRL`);
    col.crls.push({ der, origin: `${origin} (${k})` });
  }
  return done;
}

function addPcsResponse(
  col: Collateral,
  text: string,
  obj: Record<string, unknown>,
  member: "tcbInfo" | "enclaveIdentity" | "qeIdentity",
  origin: string,
): Loaded {
  const raw = rawJsonMember(text, member);
  if (raw === undefined) return bad(`${origin}: field ${member}: cannot locate its JSON text`);
  if (obj.signature === undefined) return bad(`${origin}: field signature: missing`);
  const sig = bytesField(obj.signature, `${origin}: field signature`);
  if (typeof sig === "string") return bad(sig);
  const signed: SignedJson = { text: raw, signature: sig, origin: `${origin} (${member})` };
  if (member === "tcbInfo") col.tcbInfo = signed;
  else col.qeIdentity = signed;
  return done;
}

/**
 * Adds one collateral file, recognized by content. PEM certificates become the TCB
 * info / QE identity issuer chain where the JSON did not carry one.
 */
export function addCollateralFile(col: Collateral, origin: string, bytes: Uint8Array): Loaded {
  col.origins.push(origin);
  let text: string | undefined;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = undefined;
  }
  const trimmed = text?.trimStart() ?? "";
  if (trimmed.startsWith("{")) {
    let obj: unknown;
    try {
      obj = JSON.parse(text!);
    } catch (e) {
      return bad(`${origin}: not valid JSON (${(e as Error).message})`);
    }
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) {
      return bad(`${origin}: expected a JSON object`);
    }
    const o = obj as Record<string, unknown>;
    if ("tcb_info" in o || "qe_identity" in o || "pck_crl" in o) return addDcapQvl(col, o, origin);
    for (const m of ["tcbInfo", "enclaveIdentity", "qeIdentity"] as const) {
      if (m in o) return addPcsResponse(col, text!, o, m, origin);
    }
    return bad(
      `${origin}: unknown collateral JSON (expected dcap-qvl fields tcb_info/qe_identity or a PCS tcbInfo/enclaveIdentity response)`,
    );
  }
  if (trimmed.startsWith("-----BEGIN")) {
    const blocks = pemBlocks(text!);
    if (!blocks || blocks.length === 0) return bad(`${origin}: unreadable PEM`);
    const certs = blocks.filter((b) => b.label === "CERTIFICATE").map((b) => b.der);
    for (const b of blocks) {
      if (b.label !== "X509 CRL") continue;
      if (!parseCrl(b.der)) return bad(`${origin}: a PEM X509 CRL block is not a CRL`);
      col.crls.push({ der: b.der, origin });
    }
    if (certs.length) {
      col.tcbInfoIssuerChain ??= certs;
      col.qeIdentityIssuerChain ??= certs;
    }
    return done;
  }
  if (!parseCrl(bytes)) {
    return bad(`${origin}: not JSON, PEM or a DER X.509 CRL`);
  }
  col.crls.push({ der: bytes.slice(), origin });
  return done;
}

/** Collateral from a dcap-qvl collateral object already in memory. */
export function collateralFromDcapQvl(
  obj: Record<string, unknown>,
  origin = "collateral",
): Collateral | string {
  const col = emptyCollateral();
  col.origins.push(origin);
  const r = addDcapQvl(col, obj, origin);
  return r.ok ? col : r.error;
}
