// The platform leaf handlers, by the leaf's spec name.
import type { LeafHandler } from "../leaf_context.ts";
import { tdhSysInit } from "./tdh_sys_init.ts";
import { tdhSysLpInit } from "./tdh_sys_lp_init.ts";
import { tdhSysConfig } from "./tdh_sys_config.ts";
import { tdhSysKeyConfig } from "./tdh_sys_key_config.ts";
import { tdhSysTdmrInit } from "./tdh_sys_tdmr_init.ts";

export const PLATFORM_LEAVES: [string, LeafHandler][] = [
  ["TDH.SYS.INIT", tdhSysInit],
  ["TDH.SYS.LP.INIT", tdhSysLpInit],
  ["TDH.SYS.CONFIG", tdhSysConfig],
  ["TDH.SYS.KEY.CONFIG", tdhSysKeyConfig],
  ["TDH.SYS.TDMR.INIT", tdhSysTdmrInit],
];
