// TDG.VP.INFO: the TD's GPA width, attributes, vCPU counts, the caller's vCPU index and
// which optional TDCALLs exist.
import type { LeafHandler } from "../leaf_context.ts";
import { currentGuest } from "../guest_access.ts";
import { septGeometry } from "../sept.ts";

export const tdgVpInfo: LeafHandler = (ctx) => {
  const { td, vcpu } = currentGuest(ctx);
  ctx.outFields("gpaw", { GPAW: BigInt(septGeometry(ctx.spec, td).gpaw) });
  ctx.out("attributes", td.attributes);
  ctx.outFields("vcpus_info", {
    NUM_VCPUS: BigInt(td.numVcpus ?? td.vcpus.length),
    MAX_VCPUS: BigInt(td.maxVcpus),
  });
  ctx.out("vcpu_index", BigInt(vcpu.index));
  // TDG.SYS.RD and TDG.SYS.RDALL are always there in this module.
  ctx.outFields("commands_available", { TDG_SYS_RD_AVAILABLE: 1n });
  ctx.out("reserved", 0n);
  return ctx.ok();
};
