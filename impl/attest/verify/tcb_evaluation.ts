// TCB status of a TD quote from its collateral, as Intel's quote verification library
// decides it (SGX-TDX-DCAP-QuoteVerificationLibrary QuoteVerifier.cpp 4.1.2.4.9-17,
// TcbLevelCheck.cpp, TdxModuleCheck.cpp, TDRelaunchCheck.cpp, EnclaveReportVerifier.cpp):
// TCB info and PCK certificate must name the same FMSPC and PCE-ID; the TDX module's
// signer and attributes must match the TCB info; the QE report must match the QE identity;
// the first TCB level whose SGX components and PCESVN (from the PCK certificate) and TDX
// components (TEE_TCB_SVN) are all at least the level's gives the TDX TCB status, which is
// then combined with the TDX module identity's and the QE identity's statuses.
import type { DecodedStruct } from "../../spec/codec.ts";
import { bytesToHex } from "../../spec/hex.ts";
import { theSpec } from "../../spec/mod.ts";
import { equalBytes, isAllZero } from "./byte_ops.ts";
import type {
  ModuleTcbLevel,
  QeIdentity,
  TcbInfo,
  TcbLevel,
  TdxModuleIdentity,
} from "./collateral_json.ts";
import type { EcdsaQuote } from "./quote_parse.ts";
import { quoteLayout } from "./quote_layout.ts";
import { type Reason, reason } from "./reason.ts";
import type { SgxExtensions } from "./sgx_extensions.ts";
import {
  convergeWithModule,
  convergeWithQe,
  isConfigurationNeeded,
  isModuleStatus,
  isTcbLevelStatus,
  type ModuleStatus,
  type QeStatus,
  qeStatusOf,
  type TcbLevelStatus,
  type TcbStatus,
} from "./tcb_status.ts";

/** The TCB info "id" of a TDX TCB info, and the first version with TDX levels. */
export const TDX_TCB_INFO_ID = "TDX";
export const TDX_TCB_INFO_MIN_VERSION = 3;
/** The QE identity "id" of the TD quoting enclave, and the first version that names it. */
export const TD_QE_IDENTITY_ID = "TD_QE";
export const TD_QE_IDENTITY_MIN_VERSION = 2;
/** TDX module identities are named this prefix plus TEE_TCB_SVN[1] as two hex digits. */
export const TDX_MODULE_ID_PREFIX = "TDX_";

/** Byte positions in TEE_TCB_SVN (spec struct TEE_TCB_SVN), read on first use. */
let svnIndex: { moduleSvn: number; moduleVersion: number; lateMicrocode: number } | undefined;
function teeTcbSvnIndex() {
  if (!svnIndex) {
    const at = (field: string) => {
      const f = theSpec().struct("TEE_TCB_SVN").fields.find((x) => x.name === field);
      if (f?.offset === undefined) throw new Error(`spec: TEE_TCB_SVN.${field} has no offset`);
      return f.offset;
    };
    svnIndex = {
      moduleSvn: at("tdx_module_svn"),
      moduleVersion: at("tdx_module_major_version"),
      // With the module SVN, the late microcode SVN decides whether a TD relaunch is advised.
      lateMicrocode: at("late_microcode_svn"),
    };
  }
  return svnIndex;
}

export interface TcbEvaluation {
  status: TcbStatus;
  advisoryIds: string[];
  fmspc: string;
  tcbEvaluationDataNumber: number;
  sgxLevelStatus: TcbLevelStatus;
  tdxLevelStatus: TcbLevelStatus;
  tdxLevelDate: string;
  tdxModule: { id: string; status: ModuleStatus; advisoryIds: string[] } | undefined;
  qe: { status: QeStatus; isvSvn: number; advisoryIds: string[] };
}

function moduleIdentity(tcb: TcbInfo, version: number): TdxModuleIdentity | undefined {
  const want = `${TDX_MODULE_ID_PREFIX}${version.toString(16).padStart(2, "0")}`.toUpperCase();
  return tcb.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === want);
}

function le32(bytes: Uint8Array): number {
  return (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
}

/** QE report against the QE identity (EnclaveReportVerifier 4.1.2.9.5-10). */
function qeIdentityCheck(
  qe: QeIdentity,
  report: DecodedStruct,
  reasons: Reason[],
): { status: QeStatus; level: ModuleTcbLevel } | undefined {
  const bad = (message: string, d: Parameters<typeof reason>[2] = {}) =>
    reasons.push(reason("qe_identity", message, d));
  if (qe.id !== TD_QE_IDENTITY_ID || qe.version < TD_QE_IDENTITY_MIN_VERSION) {
    bad("the QE identity is not a TD quoting enclave identity", {
      field: "enclaveIdentity.id",
      expected: `${TD_QE_IDENTITY_ID} (version >= ${TD_QE_IDENTITY_MIN_VERSION})`,
      actual: `${qe.id} (version ${qe.version})`,
    });
    return undefined;
  }
  const sgx = theSpec().struct("SGX_REPORT_BODY");
  const miscSize = sgx.fields.find((f) => f.name === "misc_select")!.size!;
  const attributes = report.attributes as Uint8Array;
  if (qe.miscselect.length !== miscSize || qe.miscselectMask.length !== miscSize) {
    bad("malformed QE identity miscselect", { field: "enclaveIdentity.miscselect" });
    return undefined;
  }
  if (
    qe.attributes.length !== attributes.length || qe.attributesMask.length !== attributes.length
  ) {
    bad("malformed QE identity attributes", { field: "enclaveIdentity.attributes" });
    return undefined;
  }
  const misc = (report.misc_select as number) & le32(qe.miscselectMask);
  if (misc !== le32(qe.miscselect)) {
    bad("QE MISCSELECT (masked) differs from the QE identity", {
      field: "qe_report.misc_select",
      expected: bytesToHex(qe.miscselect),
      actual: misc.toString(16).padStart(2 * miscSize, "0"),
    });
  }
  const masked = attributes.map((b, i) => b & qe.attributesMask[i]);
  if (!equalBytes(masked, qe.attributes)) {
    bad("QE ATTRIBUTES (masked) differ from the QE identity", {
      field: "qe_report.attributes",
      expected: bytesToHex(qe.attributes),
      actual: bytesToHex(masked),
    });
  }
  if (qe.mrSigner.length && !equalBytes(qe.mrSigner, report.mr_signer as Uint8Array)) {
    bad("QE MRSIGNER differs from the QE identity", {
      field: "qe_report.mr_signer",
      expected: bytesToHex(qe.mrSigner),
      actual: bytesToHex(report.mr_signer as Uint8Array),
    });
  }
  if (report.isv_prod_id !== qe.isvProdId) {
    bad("QE ISVPRODID differs from the QE identity", {
      field: "qe_report.isv_prod_id",
      expected: String(qe.isvProdId),
      actual: String(report.isv_prod_id),
    });
  }
  const isvSvn = report.isv_svn as number;
  const level = qe.tcbLevels.find((l) => l.isvSvn <= isvSvn);
  if (!level) {
    bad("QE ISVSVN is below every QE identity TCB level (not supported)", {
      field: "qe_report.isv_svn",
      expected: `>= ${Math.min(...qe.tcbLevels.map((l) => l.isvSvn))}`,
      actual: String(isvSvn),
    });
    return undefined;
  }
  if (!isTcbLevelStatus(level.tcbStatus)) {
    bad(`unrecognized QE identity TCB status "${level.tcbStatus}"`, {
      field: "enclaveIdentity.tcbLevels.tcbStatus",
    });
    return undefined;
  }
  return { status: qeStatusOf(level.tcbStatus), level };
}

function atLeast(have: ArrayLike<number>, want: number[], from = 0): boolean {
  for (let i = from; i < want.length; i++) if (have[i] < want[i]) return false;
  return true;
}

/** TD relaunch advice for TDX 1.5 bodies (TDRelaunchCheck.cpp). */
function relaunch(
  teeTcbSvn2: Uint8Array,
  tcb: TcbInfo,
  sgxStatus: TcbLevelStatus,
  tdxStatus: TcbLevelStatus,
  moduleStatus: ModuleStatus,
  qeStatus: QeStatus,
  reasons: Reason[],
): TcbStatus {
  const {
    moduleSvn: MODULE_SVN,
    moduleVersion: MODULE_VERSION,
    lateMicrocode: RELAUNCH_COMPONENT,
  } = teeTcbSvnIndex();
  if (qeStatus !== "UpToDate") return tdxStatus;
  if (
    !["UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded"]
      .includes(sgxStatus)
  ) {
    return tdxStatus;
  }
  if (tdxStatus !== "OutOfDate" && tdxStatus !== "OutOfDateConfigurationNeeded") return tdxStatus;
  if (moduleStatus !== "OutOfDate") return tdxStatus;
  const latest = tcb.tcbLevels[0];
  let moduleSvnNeeded: number;
  if (teeTcbSvn2[MODULE_VERSION] === 0) {
    moduleSvnNeeded = latest.tdxComponents[MODULE_SVN];
  } else {
    const id2 = moduleIdentity(tcb, teeTcbSvn2[MODULE_VERSION]);
    if (!id2 || id2.tcbLevels.length === 0) {
      reasons.push(
        reason("tdx_module", "no TDX module identity for TEE_TCB_SVN2's module version", {
          field: "body.tee_tcb_svn2[1]",
          actual: String(teeTcbSvn2[MODULE_VERSION]),
        }),
      );
      return tdxStatus;
    }
    moduleSvnNeeded = id2.tcbLevels[0].isvSvn;
  }
  if (
    teeTcbSvn2[MODULE_SVN] >= moduleSvnNeeded &&
    teeTcbSvn2[RELAUNCH_COMPONENT] >= latest.tdxComponents[RELAUNCH_COMPONENT]
  ) {
    return isConfigurationNeeded(sgxStatus) || isConfigurationNeeded(tdxStatus)
      ? "TDRelaunchAdvisedConfigurationNeeded"
      : "TDRelaunchAdvised";
  }
  return tdxStatus;
}

export function evaluateTcb(
  quote: EcdsaQuote,
  pck: SgxExtensions,
  tcb: TcbInfo,
  qe: QeIdentity,
): { evaluation?: TcbEvaluation; reasons: Reason[] } {
  const reasons: Reason[] = [];
  const L = quoteLayout();
  const { moduleSvn: MODULE_SVN, moduleVersion: MODULE_VERSION } = teeTcbSvnIndex();
  const body = quote.body;
  const teeTcbSvn = body.tee_tcb_svn as Uint8Array;

  // 4.1.2.4.9-10: the TCB info is for TDX and for this platform.
  if (tcb.id !== TDX_TCB_INFO_ID || tcb.version < TDX_TCB_INFO_MIN_VERSION) {
    reasons.push(reason("tcb_info", "the TCB info is not a TDX TCB info", {
      field: "tcbInfo.id",
      expected: `${TDX_TCB_INFO_ID} (version >= ${TDX_TCB_INFO_MIN_VERSION})`,
      actual: `${tcb.id} (version ${tcb.version})`,
    }));
    return { reasons };
  }
  if (!equalBytes(tcb.fmspc, pck.fmspc)) {
    reasons.push(reason("tcb_info", "the TCB info is for another platform (FMSPC)", {
      field: "tcbInfo.fmspc",
      expected: bytesToHex(pck.fmspc),
      actual: bytesToHex(tcb.fmspc),
    }));
  }
  if (!equalBytes(tcb.pceId, pck.pceId)) {
    reasons.push(reason("tcb_info", "the TCB info is for another PCE (PCE-ID)", {
      field: "tcbInfo.pceId",
      expected: bytesToHex(pck.pceId),
      actual: bytesToHex(tcb.pceId),
    }));
  }
  if (reasons.length) return { reasons };

  // 4.1.2.4.11: the TDX module's signer and attributes.
  const moduleVersion = teeTcbSvn[MODULE_VERSION];
  let identity: TdxModuleIdentity | undefined;
  let expected = tcb.tdxModule;
  if (moduleVersion > 0) {
    identity = moduleIdentity(tcb, moduleVersion);
    if (!identity) {
      reasons.push(
        reason("tdx_module", "no TDX module identity in the TCB info for the module version", {
          field: "tcbInfo.tdxModuleIdentities",
          expected: `${TDX_MODULE_ID_PREFIX}${
            moduleVersion.toString(16).padStart(2, "0").toUpperCase()
          }`,
          actual: (tcb.tdxModuleIdentities ?? []).map((m) => m.id).join(" ") || "none",
        }),
      );
      return { reasons };
    }
    expected = identity;
  }
  if (!expected) {
    reasons.push(
      reason("tdx_module", "the TCB info has no tdxModule", { field: "tcbInfo.tdxModule" }),
    );
    return { reasons };
  }
  const mrSignerSeam = body.mr_signer_seam as Uint8Array;
  if (!equalBytes(expected.mrSigner, mrSignerSeam)) {
    reasons.push(
      reason("tdx_module", "MRSIGNERSEAM differs from the TCB info's TDX module signer", {
        field: "body.mr_signer_seam",
        expected: bytesToHex(expected.mrSigner),
        actual: bytesToHex(mrSignerSeam),
      }),
    );
  }
  const seamAttributes = body.seam_attributes as bigint;
  // Intel requires SEAMATTRIBUTES to be zero and equal to the TCB info's (mask not applied).
  if (seamAttributes !== 0n || !isAllZero(expected.attributes)) {
    reasons.push(
      reason("tdx_module", "SEAMATTRIBUTES must be zero and equal the TCB info's attributes", {
        field: "body.seam_attributes",
        expected: bytesToHex(expected.attributes),
        actual: `0x${seamAttributes.toString(16)}`,
      }),
    );
  }

  // 4.1.2.4.15: the QE identity.
  const qeResult = qeIdentityCheck(qe, quote.qeReport, reasons);

  // 4.1.2.4.17: TCB levels.
  const comps = pck.tcbComponents;
  let sgxLevel: TcbLevel | undefined;
  let tdxLevel: TcbLevel | undefined;
  for (const level of tcb.tcbLevels) {
    if (
      level.sgxComponents.length !== comps.length || level.tdxComponents.length !== teeTcbSvn.length
    ) {
      reasons.push(reason("tcb_info", "a TCB level does not have one SVN per component", {
        field: "tcbInfo.tcbLevels",
        expected: `${comps.length} SGX and ${teeTcbSvn.length} TDX components`,
        actual: `${level.sgxComponents.length} and ${level.tdxComponents.length}`,
      }));
      return { reasons };
    }
    if (!atLeast(comps, level.sgxComponents) || pck.pceSvn < level.pceSvn) continue;
    sgxLevel ??= level;
    if (atLeast(teeTcbSvn, level.tdxComponents, moduleVersion > 0 ? MODULE_VERSION + 1 : 0)) {
      tdxLevel = level;
      break;
    }
  }
  if (!sgxLevel || !tdxLevel) {
    reasons.push(reason(
      "tcb_level",
      sgxLevel
        ? "TEE_TCB_SVN is below every TCB level with a matching SGX TCB (TCB not supported)"
        : "the PCK certificate's SGX TCB and PCESVN are below every TCB level (TCB not supported)",
      {
        field: sgxLevel ? "body.tee_tcb_svn" : "pck.tcb",
        actual: sgxLevel
          ? bytesToHex(teeTcbSvn)
          : `components ${comps.join(",")} pcesvn ${pck.pceSvn}`,
      },
    ));
    return { reasons };
  }
  for (const [lvl, what] of [[sgxLevel, "SGX"], [tdxLevel, "TDX"]] as const) {
    if (!isTcbLevelStatus(lvl.tcbStatus)) {
      reasons.push(reason("tcb_level", `unrecognized ${what} TCB level status "${lvl.tcbStatus}"`, {
        field: "tcbInfo.tcbLevels.tcbStatus",
      }));
      return { reasons };
    }
  }
  const sgxStatus = sgxLevel.tcbStatus as TcbLevelStatus;
  const tdxLevelStatus = tdxLevel.tcbStatus as TcbLevelStatus;

  // 4.1.2.4.17.4.1: the TDX module identity's TCB level.
  let moduleStatus: ModuleStatus = "UpToDate";
  let moduleLevel: ModuleTcbLevel | undefined;
  if (identity) {
    moduleLevel = identity.tcbLevels.find((l) => teeTcbSvn[MODULE_SVN] >= l.isvSvn);
    if (!moduleLevel) {
      reasons.push(
        reason("tdx_module", "the TDX module SVN is below every module TCB level (not supported)", {
          field: "body.tee_tcb_svn[0]",
          actual: String(teeTcbSvn[MODULE_SVN]),
        }),
      );
      return { reasons };
    }
    if (!isModuleStatus(moduleLevel.tcbStatus)) {
      reasons.push(
        reason("tdx_module", `unrecognized TDX module TCB status "${moduleLevel.tcbStatus}"`, {
          field: `tcbInfo.tdxModuleIdentities[${identity.id}].tcbLevels.tcbStatus`,
        }),
      );
      return { reasons };
    }
    moduleStatus = moduleLevel.tcbStatus;
  }
  if (!qeResult) return { reasons };

  let status: TcbStatus = convergeWithModule(tdxLevelStatus, moduleStatus);
  if (status !== "Revoked") {
    if (quote.bodyType === L.bodyType.td15) {
      status = relaunch(
        body.tee_tcb_svn2 as Uint8Array,
        tcb,
        sgxStatus,
        status as TcbLevelStatus,
        moduleStatus,
        qeResult.status,
        reasons,
      );
    }
    status = convergeWithQe(status, qeResult.status);
  }
  // Intel's verification ends with a mismatch status, not a TCB status, after any of these.
  if (reasons.length) return { reasons };
  const advisoryIds = [
    ...new Set([
      ...tdxLevel.advisoryIds,
      ...(moduleLevel?.advisoryIds ?? []),
      ...qeResult.level.advisoryIds,
    ]),
  ];
  return {
    reasons,
    evaluation: {
      status,
      advisoryIds,
      fmspc: bytesToHex(pck.fmspc),
      tcbEvaluationDataNumber: tcb.tcbEvaluationDataNumber,
      sgxLevelStatus: sgxStatus,
      tdxLevelStatus,
      tdxLevelDate: tdxLevel.tcbDate,
      tdxModule: identity && moduleLevel
        ? { id: identity.id, status: moduleStatus, advisoryIds: moduleLevel.advisoryIds }
        : undefined,
      qe: {
        status: qeResult.status,
        isvSvn: quote.qeReport.isv_svn as number,
        advisoryIds: qeResult.level.advisoryIds,
      },
    },
  };
}
