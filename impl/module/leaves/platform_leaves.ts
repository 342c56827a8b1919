// The platform leaf handlers, by the leaf's spec name.
import type { LeafHandler } from "../leaf_context.ts";
import { tdhSysInit } from "./tdh_sys_init.ts";
import { tdhSysLpInit } from "./tdh_sys_lp_init.ts";
import { tdhSysConfig } from "./tdh_sys_config.ts";
import { tdhSysKeyConfig } from "./tdh_sys_key_config.ts";
import { tdhSysTdmrInit } from "./tdh_sys_tdmr_init.ts";
import { tdhSysRd } from "./tdh_sys_rd.ts";
import { tdhSysRdall } from "./tdh_sys_rdall.ts";
import { tdhSysInfo } from "./tdh_sys_info.ts";
import { tdhSysLpShutdown } from "./tdh_sys_lp_shutdown.ts";
import { tdhSysShutdown } from "./tdh_sys_shutdown.ts";
import { tdhSysUpdate } from "./tdh_sys_update.ts";
import { tdhPhymemPageRdmd } from "./tdh_phymem_page_rdmd.ts";
import { tdhPhymemPageReclaim } from "./tdh_phymem_page_reclaim.ts";
import { tdhPhymemCacheWb } from "./tdh_phymem_cache_wb.ts";
import { tdhPhymemPageWbinvd } from "./tdh_phymem_page_wbinvd.ts";
import { tdhExtMemAdd } from "./tdh_ext_mem_add.ts";
import { tdhExtInit } from "./tdh_ext_init.ts";
import { tdhQuoteInit } from "./tdh_quote_init.ts";
import { tdhQuoteGet } from "./tdh_quote_get.ts";

export const PLATFORM_LEAVES: [string, LeafHandler][] = [
  ["TDH.SYS.INIT", tdhSysInit],
  ["TDH.SYS.LP.INIT", tdhSysLpInit],
  ["TDH.SYS.CONFIG", tdhSysConfig],
  ["TDH.SYS.KEY.CONFIG", tdhSysKeyConfig],
  ["TDH.SYS.TDMR.INIT", tdhSysTdmrInit],
  ["TDH.SYS.RD", tdhSysRd],
  ["TDH.SYS.RDALL", tdhSysRdall],
  ["TDH.SYS.INFO", tdhSysInfo],
  ["TDH.SYS.LP.SHUTDOWN", tdhSysLpShutdown],
  ["TDH.SYS.SHUTDOWN", tdhSysShutdown],
  ["TDH.SYS.UPDATE", tdhSysUpdate],
  ["TDH.PHYMEM.PAGE.RDMD", tdhPhymemPageRdmd],
  ["TDH.PHYMEM.PAGE.RECLAIM", tdhPhymemPageReclaim],
  ["TDH.PHYMEM.CACHE.WB", tdhPhymemCacheWb],
  ["TDH.PHYMEM.PAGE.WBINVD", tdhPhymemPageWbinvd],
  ["TDH.EXT.MEM.ADD", tdhExtMemAdd],
  ["TDH.EXT.INIT", tdhExtInit],
  ["TDH.QUOTE.INIT", tdhQuoteInit],
  ["TDH.QUOTE.GET", tdhQuoteGet],
];
