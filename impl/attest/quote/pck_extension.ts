// The SGX extensions of a PCK certificate (Intel's PCK certificate profile): PPID, the
// TCB the key was issued for (16 component SVNs, PCESVN, CPUSVN), PCE ID, FMSPC, SGX
// type and, for multi-package platforms, the platform instance ID and configuration.
// Encoded with asn1js as a SEQUENCE of (OID, value) SEQUENCEs, the order and ASN.1
// types of the real leaves in fixtures/realdata; also read back from any certificate.
import * as asn1js from "asn1js";
import type { Spec } from "../../spec/mod.ts";
import { fail, type Result } from "../attest_error.ts";
import { sgxOid, tcbComponentEntries } from "./sgx_oids.ts";

export interface PckExtension {
  ppid: Uint8Array;
  /** TCB component SVNs 1..16. */
  tcbComponents: number[];
  pceSvn: number;
  cpuSvn: Uint8Array;
  pceId: Uint8Array;
  fmspc: Uint8Array;
  sgxType: number;
  platformInstanceId?: Uint8Array;
  configuration?: { dynamicPlatform?: boolean; cachedKeys?: boolean; smtEnabled?: boolean };
}

function entry(spec: Spec, name: string, value: asn1js.AsnType): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: sgxOid(spec, name) }), value],
  });
}

const octets = (b: Uint8Array) => new asn1js.OctetString({ valueHex: b.slice().buffer });

/** The DER value (extnValue contents) of the SGX extension. */
export function encodePckExtension(spec: Spec, x: PckExtension): Uint8Array {
  const comps = tcbComponentEntries(spec);
  if (x.tcbComponents.length !== comps.length) {
    throw new RangeError(
      `${x.tcbComponents.length} TCB components; the profile has ${comps.length}`,
    );
  }
  const tcb = new asn1js.Sequence({
    value: [
      ...comps.map((name, i) =>
        entry(spec, name, new asn1js.Integer({ value: x.tcbComponents[i] }))
      ),
      entry(spec, "TCB.PCESVN", new asn1js.Integer({ value: x.pceSvn })),
      entry(spec, "TCB.CPUSVN", octets(x.cpuSvn)),
    ],
  });
  const items: asn1js.Sequence[] = [
    entry(spec, "PPID", octets(x.ppid)),
    entry(spec, "TCB", tcb),
    entry(spec, "PCE_ID", octets(x.pceId)),
    entry(spec, "FMSPC", octets(x.fmspc)),
    entry(spec, "SGX_TYPE", new asn1js.Enumerated({ value: x.sgxType })),
  ];
  if (x.platformInstanceId) {
    items.push(entry(spec, "PLATFORM_INSTANCE_ID", octets(x.platformInstanceId)));
  }
  if (x.configuration) {
    const c = x.configuration;
    const flags: [string, boolean | undefined][] = [
      ["CONFIGURATION.DYNAMIC_PLATFORM", c.dynamicPlatform],
      ["CONFIGURATION.CACHED_KEYS", c.cachedKeys],
      ["CONFIGURATION.SMT_ENABLED", c.smtEnabled],
    ];
    items.push(
      entry(
        spec,
        "CONFIGURATION",
        new asn1js.Sequence({
          value: flags.filter(([, v]) => v !== undefined)
            .map(([n, v]) => entry(spec, n, new asn1js.Boolean({ value: v }))),
        }),
      ),
    );
  }
  return new Uint8Array(new asn1js.Sequence({ value: items }).toBER());
}

/** (OID, value) pairs of a SEQUENCE of SEQUENCEs, or undefined when it is not one. */
function pairs(node: asn1js.AsnType): Map<string, asn1js.AsnType> | undefined {
  if (!(node instanceof asn1js.Sequence)) return undefined;
  const out = new Map<string, asn1js.AsnType>();
  for (const item of node.valueBlock.value) {
    if (!(item instanceof asn1js.Sequence) || item.valueBlock.value.length !== 2) return undefined;
    const [oid, value] = item.valueBlock.value;
    if (!(oid instanceof asn1js.ObjectIdentifier)) return undefined;
    out.set(oid.valueBlock.toString(), value);
  }
  return out;
}

/** Reads the SGX extension value (DER) back. */
export function decodePckExtension(spec: Spec, der: Uint8Array): Result<PckExtension> {
  const field = "SGX_PCK_EXTENSION_OID";
  const parsed = asn1js.fromBER(der.slice().buffer);
  if (parsed.offset === -1 || parsed.offset !== der.length) {
    return fail("invalid", field, "the SGX extension is not one DER value");
  }
  const top = pairs(parsed.result);
  if (!top) return fail("invalid", field, "the SGX extension is not a SEQUENCE of (OID, value)");
  const need = <T extends asn1js.AsnType>(
    map: Map<string, asn1js.AsnType>,
    name: string,
    type: new (...a: never[]) => T,
  ): T | string => {
    const v = map.get(sgxOid(spec, name));
    if (v === undefined) return `no ${name} entry`;
    if (!(v instanceof type)) return `${name} is not a ${type.name}`;
    return v;
  };
  const bytes = (v: asn1js.OctetString) => new Uint8Array(v.valueBlock.valueHexView);
  const tcbNode = need(top, "TCB", asn1js.Sequence);
  if (typeof tcbNode === "string") return fail("invalid", `${field}.TCB`, tcbNode);
  const tcb = pairs(tcbNode);
  if (!tcb) return fail("invalid", `${field}.TCB`, "TCB is not a SEQUENCE of (OID, value)");
  const comps: number[] = [];
  for (const name of tcbComponentEntries(spec)) {
    const v = need(tcb, name, asn1js.Integer);
    if (typeof v === "string") return fail("invalid", `${field}.${name}`, v);
    comps.push(v.valueBlock.valueDec);
  }
  const got = {
    ppid: need(top, "PPID", asn1js.OctetString),
    pceSvn: need(tcb, "TCB.PCESVN", asn1js.Integer),
    cpuSvn: need(tcb, "TCB.CPUSVN", asn1js.OctetString),
    pceId: need(top, "PCE_ID", asn1js.OctetString),
    fmspc: need(top, "FMSPC", asn1js.OctetString),
    sgxType: need(top, "SGX_TYPE", asn1js.Enumerated),
  };
  for (const [k, v] of Object.entries(got)) {
    if (typeof v === "string") return fail("invalid", `${field}.${k}`, v);
  }
  const ok = got as {
    ppid: asn1js.OctetString;
    pceSvn: asn1js.Integer;
    cpuSvn: asn1js.OctetString;
    pceId: asn1js.OctetString;
    fmspc: asn1js.OctetString;
    sgxType: asn1js.Enumerated;
  };
  const out: PckExtension = {
    ppid: bytes(ok.ppid),
    tcbComponents: comps,
    pceSvn: ok.pceSvn.valueBlock.valueDec,
    cpuSvn: bytes(ok.cpuSvn),
    pceId: bytes(ok.pceId),
    fmspc: bytes(ok.fmspc),
    sgxType: ok.sgxType.valueBlock.valueDec,
  };
  const instance = top.get(sgxOid(spec, "PLATFORM_INSTANCE_ID"));
  if (instance instanceof asn1js.OctetString) out.platformInstanceId = bytes(instance);
  const config = top.get(sgxOid(spec, "CONFIGURATION"));
  const flags = config ? pairs(config) : undefined;
  if (flags) {
    const flag = (n: string) => {
      const v = flags.get(sgxOid(spec, n));
      return v instanceof asn1js.Boolean ? v.valueBlock.value : undefined;
    };
    out.configuration = {
      dynamicPlatform: flag("CONFIGURATION.DYNAMIC_PLATFORM"),
      cachedKeys: flag("CONFIGURATION.CACHED_KEYS"),
      smtEnabled: flag("CONFIGURATION.SMT_ENABLED"),
    };
  }
  return { ok: true, value: out };
}
