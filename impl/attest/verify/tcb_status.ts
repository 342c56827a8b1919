// TCB status values and how Intel's quote verification library combines them: the TDX
// TCB level's status with the TDX module identity's, then with the QE identity's
// (SGX-TDX-DCAP-QuoteVerificationLibrary, TcbLevelCheck.cpp / TdxModuleCheck.cpp).

/** Statuses a TCB info TCB level may carry (Intel's VALID_TCB_INFO_STATUSES). */
export const TCB_LEVEL_STATUSES = [
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "Revoked",
] as const;
export type TcbLevelStatus = typeof TCB_LEVEL_STATUSES[number];

/** Statuses a TDX module identity TCB level may carry (VALID_MODULE_TCB_STATUSES). */
export const MODULE_STATUSES = ["UpToDate", "OutOfDate", "Revoked"] as const;
export type ModuleStatus = typeof MODULE_STATUSES[number];

/** The QE identity outcome: its level's status, anything but UpToDate/Revoked is OutOfDate. */
export type QeStatus = "UpToDate" | "OutOfDate" | "Revoked";

/** The final status: a level status, or a TD relaunch advice for TDX 1.5 bodies. */
export type TcbStatus =
  | TcbLevelStatus
  | "TDRelaunchAdvised"
  | "TDRelaunchAdvisedConfigurationNeeded";

export function isTcbLevelStatus(s: unknown): s is TcbLevelStatus {
  return (TCB_LEVEL_STATUSES as readonly unknown[]).includes(s);
}

export function isModuleStatus(s: unknown): s is ModuleStatus {
  return (MODULE_STATUSES as readonly unknown[]).includes(s);
}

export function qeStatusOf(levelStatus: string): QeStatus {
  if (levelStatus === "UpToDate") return "UpToDate";
  if (levelStatus === "Revoked") return "Revoked";
  return "OutOfDate";
}

/** An OutOfDate or Revoked component status pulls the level status down. */
function convergeOutOfDate<T extends string>(
  levelStatus: T,
  other: "UpToDate" | "OutOfDate" | "Revoked",
): T | "OutOfDate" | "OutOfDateConfigurationNeeded" | "Revoked" {
  if (other === "OutOfDate") {
    if (levelStatus === "UpToDate" || levelStatus === "SWHardeningNeeded") return "OutOfDate";
    if (
      levelStatus === "ConfigurationNeeded" || levelStatus === "ConfigurationAndSWHardeningNeeded"
    ) return "OutOfDateConfigurationNeeded";
  }
  if (other === "Revoked") return "Revoked";
  return levelStatus;
}

export function convergeWithModule(level: TcbLevelStatus, module: ModuleStatus): TcbLevelStatus {
  return convergeOutOfDate(level, module) as TcbLevelStatus;
}

export function convergeWithQe(status: TcbStatus, qe: QeStatus): TcbStatus {
  return convergeOutOfDate(status, qe) as TcbStatus;
}

export function isConfigurationNeeded(s: TcbStatus): boolean {
  return s === "ConfigurationNeeded" || s === "OutOfDateConfigurationNeeded" ||
    s === "ConfigurationAndSWHardeningNeeded" || s === "TDRelaunchAdvisedConfigurationNeeded";
}
