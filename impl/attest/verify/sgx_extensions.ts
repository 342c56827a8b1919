// The Intel SGX extensions of a PCK leaf certificate (a DER SEQUENCE of (OID, value)
// pairs, OIDs from the spec's SGX_PCK_EXTENSION_OID): FMSPC, PCE-ID, the 16 TCB
// component SVNs, PCESVN and CPUSVN, which pick the TCB level.
import { decodeDer, type DerNode, isType, oidText, smallInteger } from "./der.ts";
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

/** A SEQUENCE of SEQUENCE { OID, value } as a map; undefined if the shape differs. */
function pairs(node: DerNode | undefined): Map<string, DerNode> | undefined {
  if (!isType(node, "SEQUENCE")) return undefined;
  const out = new Map<string, DerNode>();
  for (const item of node.children) {
    const [id, value] = item.children;
    if (
      item.type !== "SEQUENCE" || item.children.length !== 2 || !isType(id, "OBJECT_IDENTIFIER")
    ) {
      return undefined;
    }
    const oid = oidText(id);
    if (out.has(oid)) return undefined;
    out.set(oid, value);
  }
  return out;
}

function octets(node: DerNode | undefined): Uint8Array | undefined {
  return isType(node, "OCTET_STRING") ? node.value.slice() : undefined;
}

export function parseSgxExtensions(extensions: Map<string, Uint8Array>): Result<SgxExtensions> {
  const O = pckOids();
  const bad = (message: string, field?: string) =>
    fail<SgxExtensions>(reason("pck_chain", message, { field }));
  const raw = extensions.get(O.extension);
  if (!raw) return bad("the PCK certificate has no SGX extensions", O.extension);
  const top = pairs(decodeDer(raw));
  if (!top) return bad("the SGX extensions are not a DER SEQUENCE of (OID, value)", O.extension);
  const tcb = pairs(top.get(O.tcb));
  if (!tcb) return bad("the SGX extensions have no well-formed TCB entry", O.tcb);
  const ppid = octets(top.get(O.ppid));
  const fmspc = octets(top.get(O.fmspc));
  const pceId = octets(top.get(O.pceId));
  if (!ppid) return bad("PPID is missing or not an OCTET STRING", O.ppid);
  if (!fmspc) return bad("FMSPC is missing or not an OCTET STRING", O.fmspc);
  if (!pceId) return bad("PCE-ID is missing or not an OCTET STRING", O.pceId);
  const tcbComponents: number[] = [];
  for (const oid of O.tcbComponents) {
    const v = smallInteger(tcb.get(oid));
    if (v === undefined) return bad("a TCB component SVN is missing or not an INTEGER", oid);
    tcbComponents.push(v);
  }
  const pceSvn = smallInteger(tcb.get(O.pceSvn));
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
    sgxType: smallInteger(top.get(O.sgxType)),
  });
}
