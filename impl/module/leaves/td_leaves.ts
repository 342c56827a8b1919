// The td leaf handlers, by the leaf's spec name: the TD and vCPU life cycle and the
// build-time measurement.
import type { LeafHandler } from "../leaf_context.ts";
import { tdhMngCreate } from "./tdh_mng_create.ts";
import { tdhMngKeyConfig } from "./tdh_mng_key_config.ts";
import { tdhMngAddcx } from "./tdh_mng_addcx.ts";
import { tdhMngInit } from "./tdh_mng_init.ts";
import { tdhMngRd } from "./tdh_mng_rd.ts";
import { tdhMngWr } from "./tdh_mng_wr.ts";
import { tdhMngVpflushdone } from "./tdh_mng_vpflushdone.ts";
import { tdhMngKeyFreeid } from "./tdh_mng_key_freeid.ts";
import { tdhMngKeyReclaimid } from "./tdh_mng_key_reclaimid.ts";
import { tdhVpCreate } from "./tdh_vp_create.ts";
import { tdhVpAddcx } from "./tdh_vp_addcx.ts";
import { tdhVpInit } from "./tdh_vp_init.ts";
import { tdhVpRd } from "./tdh_vp_rd.ts";
import { tdhVpWr } from "./tdh_vp_wr.ts";
import { tdhVpFlush } from "./tdh_vp_flush.ts";
import { tdhVpEnter } from "./tdh_vp_enter.ts";
import { tdhMrExtend } from "./tdh_mr_extend.ts";
import { tdhMrFinalize } from "./tdh_mr_finalize.ts";
import { MIGRATION_LEAVES } from "../migration/registry.ts";
import { tdhServtdBind } from "./tdh_servtd_bind.ts";
import { tdhServtdPrebind } from "./tdh_servtd_prebind.ts";

export const TD_LEAVES: [string, LeafHandler][] = [
  ["TDH.MNG.CREATE", tdhMngCreate],
  ["TDH.MNG.KEY.CONFIG", tdhMngKeyConfig],
  ["TDH.MNG.ADDCX", tdhMngAddcx],
  ["TDH.MNG.INIT", tdhMngInit],
  ["TDH.MNG.RD", tdhMngRd],
  ["TDH.MNG.WR", tdhMngWr],
  ["TDH.MNG.VPFLUSHDONE", tdhMngVpflushdone],
  ["TDH.MNG.KEY.FREEID", tdhMngKeyFreeid],
  ["TDH.MNG.KEY.RECLAIMID", tdhMngKeyReclaimid],
  ["TDH.VP.CREATE", tdhVpCreate],
  ["TDH.VP.ADDCX", tdhVpAddcx],
  ["TDH.VP.INIT", tdhVpInit],
  ["TDH.VP.RD", tdhVpRd],
  ["TDH.VP.WR", tdhVpWr],
  ["TDH.VP.FLUSH", tdhVpFlush],
  ["TDH.VP.ENTER", tdhVpEnter],
  ["TDH.MR.EXTEND", tdhMrExtend],
  ["TDH.MR.FINALIZE", tdhMrFinalize],
  ["TDH.SERVTD.BIND", tdhServtdBind],
  ["TDH.SERVTD.PREBIND", tdhServtdPrebind],
  ...MIGRATION_LEAVES,
];
