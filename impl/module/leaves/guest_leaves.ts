// The guest leaf handlers, by the leaf's spec name.
import type { LeafHandler } from "../leaf_context.ts";
import { tdgVpVmcall } from "./tdg_vp_vmcall.ts";
import { tdgVpInfo } from "./tdg_vp_info.ts";
import { tdgMrRtmrExtend } from "./tdg_mr_rtmr_extend.ts";
import { tdgVpVeinfoGet } from "./tdg_vp_veinfo_get.ts";
import { tdgMrReport } from "./tdg_mr_report.ts";
import { tdgVpCpuidveSet } from "./tdg_vp_cpuidve_set.ts";
import { tdgMemPageAccept } from "./tdg_mem_page_accept.ts";
import { tdgVmRd } from "./tdg_vm_rd.ts";
import { tdgVmWr } from "./tdg_vm_wr.ts";
import { tdgVpRd } from "./tdg_vp_rd.ts";
import { tdgVpWr } from "./tdg_vp_wr.ts";
import { tdgSysRd } from "./tdg_sys_rd.ts";
import { tdgSysRdall } from "./tdg_sys_rdall.ts";
import { tdgMrVerifyreport } from "./tdg_mr_verifyreport.ts";
import { tdgMemPageAttrRd } from "./tdg_mem_page_attr_rd.ts";
import { tdgMemPageAttrWr } from "./tdg_mem_page_attr_wr.ts";
import { tdgServtdRd } from "./tdg_servtd_rd.ts";
import { tdgServtdWr } from "./tdg_servtd_wr.ts";
import { tdgVpEnter } from "./tdg_vp_enter.ts";
import { tdgVpInvept } from "./tdg_vp_invept.ts";
import { tdgVpInvvpid } from "./tdg_vp_invvpid.ts";

export const GUEST_LEAVES: [string, LeafHandler][] = [
  ["TDG.VP.VMCALL", tdgVpVmcall],
  ["TDG.VP.INFO", tdgVpInfo],
  ["TDG.MR.RTMR.EXTEND", tdgMrRtmrExtend],
  ["TDG.VP.VEINFO.GET", tdgVpVeinfoGet],
  ["TDG.MR.REPORT", tdgMrReport],
  ["TDG.VP.CPUIDVE.SET", tdgVpCpuidveSet],
  ["TDG.MEM.PAGE.ACCEPT", tdgMemPageAccept],
  ["TDG.VM.RD", tdgVmRd],
  ["TDG.VM.WR", tdgVmWr],
  ["TDG.VP.RD", tdgVpRd],
  ["TDG.VP.WR", tdgVpWr],
  ["TDG.SYS.RD", tdgSysRd],
  ["TDG.SYS.RDALL", tdgSysRdall],
  ["TDG.MR.VERIFYREPORT", tdgMrVerifyreport],
  ["TDG.MEM.PAGE.ATTR.RD", tdgMemPageAttrRd],
  ["TDG.MEM.PAGE.ATTR.WR", tdgMemPageAttrWr],
  ["TDG.SERVTD.RD", tdgServtdRd],
  ["TDG.SERVTD.WR", tdgServtdWr],
  ["TDG.VP.ENTER", tdgVpEnter],
  ["TDG.VP.INVEPT", tdgVpInvept],
  ["TDG.VP.INVVPID", tdgVpInvvpid],
];
