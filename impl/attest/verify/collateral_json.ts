// The TDX TCB info and TD QE identity documents (Intel PCS API v4 JSON), checked for
// shape and reduced to typed values. Hex fields become bytes; dates become Dates.
import { hexToBytes } from "../../spec/hex.ts";
import { type CheckName, fail, ok, reason, type Result } from "./reason.ts";

export interface TcbLevel {
  sgxComponents: number[];
  pceSvn: number;
  tdxComponents: number[];
  tcbDate: string;
  tcbStatus: string;
  advisoryIds: string[];
}

export interface ModuleTcbLevel {
  isvSvn: number;
  tcbDate: string;
  tcbStatus: string;
  advisoryIds: string[];
}

export interface TdxModuleIdentity {
  id: string;
  mrSigner: Uint8Array;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  tcbLevels: ModuleTcbLevel[];
}

export interface TcbInfo {
  id: string;
  version: number;
  issueDate: Date;
  nextUpdate: Date;
  fmspc: Uint8Array;
  pceId: Uint8Array;
  tcbType: number;
  tcbEvaluationDataNumber: number;
  tdxModule?: { mrSigner: Uint8Array; attributes: Uint8Array; attributesMask: Uint8Array };
  tdxModuleIdentities?: TdxModuleIdentity[];
  tcbLevels: TcbLevel[];
}

export interface QeIdentity {
  id: string;
  version: number;
  issueDate: Date;
  nextUpdate: Date;
  tcbEvaluationDataNumber: number;
  miscselect: Uint8Array;
  miscselectMask: Uint8Array;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  tcbLevels: ModuleTcbLevel[];
}

class Shape extends Error {}

type J = Record<string, unknown>;

function obj(v: unknown, at: string): J {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Shape(`${at}: expected an object`);
  return v as J;
}
function arr(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw new Shape(`${at}: expected an array`);
  return v;
}
function int(v: unknown, at: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) {
    throw new Shape(`${at}: expected a non-negative integer`);
  }
  return v as number;
}
function str(v: unknown, at: string): string {
  if (typeof v !== "string") throw new Shape(`${at}: expected a string`);
  return v;
}
function hex(v: unknown, at: string): Uint8Array {
  try {
    return hexToBytes(str(v, at));
  } catch (e) {
    if (e instanceof Shape) throw e;
    throw new Shape(`${at}: expected hex`);
  }
}
function date(v: unknown, at: string): Date {
  const d = new Date(str(v, at));
  if (isNaN(d.getTime())) throw new Shape(`${at}: not a date`);
  return d;
}
function advisories(v: unknown, at: string): string[] {
  return v === undefined ? [] : arr(v, at).map((x, i) => str(x, `${at}[${i}]`));
}
function svns(v: unknown, at: string): number[] {
  return arr(v, at).map((c, i) => int(obj(c, `${at}[${i}]`).svn, `${at}[${i}].svn`));
}
function moduleLevels(v: unknown, at: string): ModuleTcbLevel[] {
  return arr(v, at).map((l, i) => {
    const o = obj(l, `${at}[${i}]`);
    return {
      isvSvn: int(obj(o.tcb, `${at}[${i}].tcb`).isvsvn, `${at}[${i}].tcb.isvsvn`),
      tcbDate: str(o.tcbDate, `${at}[${i}].tcbDate`),
      tcbStatus: str(o.tcbStatus, `${at}[${i}].tcbStatus`),
      advisoryIds: advisories(o.advisoryIDs, `${at}[${i}].advisoryIDs`),
    };
  });
}

function parseWith<T>(check: CheckName, what: string, text: string, f: (o: J) => T): Result<T> {
  try {
    return ok(f(obj(JSON.parse(text), what)));
  } catch (e) {
    const message = e instanceof Shape ? e.message : `${what}: not valid JSON`;
    return fail(reason(check, `malformed ${message}`));
  }
}

export function parseTcbInfo(text: string): Result<TcbInfo> {
  return parseWith("tcb_info", "tcbInfo", text, (o) => {
    const mod = (m: J, at: string) => ({
      mrSigner: hex(m.mrsigner, `${at}.mrsigner`),
      attributes: hex(m.attributes, `${at}.attributes`),
      attributesMask: hex(m.attributesMask, `${at}.attributesMask`),
    });
    return {
      id: str(o.id, "tcbInfo.id"),
      version: int(o.version, "tcbInfo.version"),
      issueDate: date(o.issueDate, "tcbInfo.issueDate"),
      nextUpdate: date(o.nextUpdate, "tcbInfo.nextUpdate"),
      fmspc: hex(o.fmspc, "tcbInfo.fmspc"),
      pceId: hex(o.pceId, "tcbInfo.pceId"),
      tcbType: int(o.tcbType, "tcbInfo.tcbType"),
      tcbEvaluationDataNumber: int(o.tcbEvaluationDataNumber, "tcbInfo.tcbEvaluationDataNumber"),
      tdxModule: o.tdxModule === undefined
        ? undefined
        : mod(obj(o.tdxModule, "tcbInfo.tdxModule"), "tcbInfo.tdxModule"),
      tdxModuleIdentities: o.tdxModuleIdentities === undefined
        ? undefined
        : arr(o.tdxModuleIdentities, "tcbInfo.tdxModuleIdentities").map((m, i) => {
          const at = `tcbInfo.tdxModuleIdentities[${i}]`;
          const mo = obj(m, at);
          return {
            id: str(mo.id, `${at}.id`),
            ...mod(mo, at),
            tcbLevels: moduleLevels(mo.tcbLevels, `${at}.tcbLevels`),
          };
        }),
      tcbLevels: arr(o.tcbLevels, "tcbInfo.tcbLevels").map((l, i) => {
        const at = `tcbInfo.tcbLevels[${i}]`;
        const lo = obj(l, at);
        const tcb = obj(lo.tcb, `${at}.tcb`);
        return {
          sgxComponents: svns(tcb.sgxtcbcomponents, `${at}.tcb.sgxtcbcomponents`),
          pceSvn: int(tcb.pcesvn, `${at}.tcb.pcesvn`),
          tdxComponents: tcb.tdxtcbcomponents === undefined
            ? []
            : svns(tcb.tdxtcbcomponents, `${at}.tcb.tdxtcbcomponents`),
          tcbDate: str(lo.tcbDate, `${at}.tcbDate`),
          tcbStatus: str(lo.tcbStatus, `${at}.tcbStatus`),
          advisoryIds: advisories(lo.advisoryIDs, `${at}.advisoryIDs`),
        };
      }),
    };
  });
}

export function parseQeIdentity(text: string): Result<QeIdentity> {
  return parseWith("qe_identity", "enclaveIdentity", text, (o) => ({
    id: str(o.id, "enclaveIdentity.id"),
    version: int(o.version, "enclaveIdentity.version"),
    issueDate: date(o.issueDate, "enclaveIdentity.issueDate"),
    nextUpdate: date(o.nextUpdate, "enclaveIdentity.nextUpdate"),
    tcbEvaluationDataNumber: int(
      o.tcbEvaluationDataNumber,
      "enclaveIdentity.tcbEvaluationDataNumber",
    ),
    miscselect: hex(o.miscselect, "enclaveIdentity.miscselect"),
    miscselectMask: hex(o.miscselectMask, "enclaveIdentity.miscselectMask"),
    attributes: hex(o.attributes, "enclaveIdentity.attributes"),
    attributesMask: hex(o.attributesMask, "enclaveIdentity.attributesMask"),
    mrSigner: hex(o.mrsigner, "enclaveIdentity.mrsigner"),
    isvProdId: int(o.isvprodid, "enclaveIdentity.isvprodid"),
    tcbLevels: moduleLevels(o.tcbLevels, "enclaveIdentity.tcbLevels"),
  }));
}
