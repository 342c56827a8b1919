// Global (platform) metadata fields with semantics, for TDH.SYS.RD/RDALL and
// TDG.SYS.RD/RDALL. Fields not listed here read from platform.mdFields (zero until the
// platform code stores a value). The platform owner adds getters here, by field name.
import type { MdHandlers } from "./metadata.ts";

export const GLOBAL_MD_VALUES: MdHandlers = {};
