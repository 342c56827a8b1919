// The Intel SGX extensions of a PCK leaf certificate (a DER SEQUENCE of (OID, value)
// pairs, OIDs from the spec's SGX_PCK_EXTENSION_OID): FMSPC, PCE-ID, the 16 TCB
// component SVNs, PCESVN and CPUSVN, which pick the TCB level.
import * as asn1js from "asn1js";
import { pckOids } from "./oids.ts";
import { fail, ok, reason, type Result } from "./reason.ts";

export interface SgxExtensions {
  ppid: Uint8Array;
  fmspc: Uint8Array;
  pceId: Uint8Array;
  /** TCB component SVNs 1..16 in order. */
  tcbComponents: number[];
  pceSvn: number;
  cpuSvn: Uint8Array;
  sgxType: number | undefined;
}

type Pairs = Map<string, asn1js.AsnType>;

/** A SEQUENCE of SEQUENCE { OID, value } as a map; undefined if the shape differs. */
function pairs(node: asn1js.AsnType): Pairs | undefined {
  if (!(node instanceof asn1js.Sequence)) return undefined;
  const out: Pairs = new Map();
  for (const item of node.valueBlock.value) {
    if (!(item instanceof asn1js.Sequence) || item.valueBlock.value.length !== 2) return undefined;
    const [id, value] = item.valueBlock.value;
    if (!(id instanceof asn1js.ObjectIdentifier)) return undefined;
    const oid = id.valueBlock.toString();
    if (out.has(oid)) return undefined;
    out.set(oid, value);
  }
  return out;
}

function octets(node: asn1js.AsnType | undefined): Uint8Array | undefined {
  return node instanceof asn1js.OctetString ? node.valueBlock.valueHexView.slice() : undefined;
}

function integer(node: asn1js.AsnType | undefined): number | undefined {
  if (!(node instanceof asn1js.Integer) && !(node instanceof asn1js.Enumerated)) return undefined;
  const v = node.valueBlock.valueDec;
  return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

export function parseSgxExtensions(
  extensions: Map<string, Uint8Array>,
): Result<SgxExtensions> {
  const O = pckOids();
  const bad = (message: string, field?: string) =>
    fail<SgxExtensions>(reason("pck_chain", message, { field }));
  const raw = extensions.get(O.extension);
  if (!raw) return bad("the PCK certificate has no SGX extensions", O.extension);
  const asn = asn1js.fromBER(raw);
  if (asn.offset === -1 || asn.offset !== raw.length) {
    return bad("the SGX extensions are not one DER value", O.extension);
  }
  const top = pairs(asn.result);
  if (!top) return bad("the SGX extensions are not a SEQUENCE of (OID, value)", O.extension);
  const tcbNode = top.get(O.tcb);
  const tcb = tcbNode ? pairs(tcbNode) : undefined;
  if (!tcb) return bad("the SGX extensions have no well-formed TCB entry", O.tcb);
  const ppid = octets(top.get(O.ppid));
  const fmspc = octets(top.get(O.fmspc));
  const pceId = octets(top.get(O.pceId));
  if (!ppid) return bad("PPID is missing or not an OCTET STRING", O.ppid);
  if (!fmspc) return bad("FMSPC is missing or not an OCTET STRING", O.fmspc);
  if (!pceId) return bad("PCE-ID is missing or not an OCTET STRING", O.pceId);
  const tcbComponents: number[] = [];
  for (const oid of O.tcbComponents) {
    const v = integer(tcb.get(oid));
    if (v === undefined) return bad("a TCB component SVN is missing or not an INTEGER", oid);
    tcbComponents.push(v);
  }
  const pceSvn = integer(tcb.get(O.pceSvn));
  if (pceSvn === undefined) return bad("PCESVN is missing or not an INTEGER", O.pceSvn);
  const cpuSvn = octets(tcb.get(O.cpuSvn));
  if (!cpuSvn) return bad("CPUSVN is missing or not an OCTET STRING", O.cpuSvn);
  return ok({
    ppid,
    fmspc,
    pceId,
    tcbComponents,
    pceSvn,
    cpuSvn,
    sgxType: integer(top.get(O.sgxType)),
  });
}
