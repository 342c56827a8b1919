// TDH.SERVTD.PREBIND: before a TD is initialised, records in one of its binding slots the
// type, attributes and expected TDINFO hash of the service TD to be bound later.
import type { LeafHandler } from "../leaf_context.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { sharedHpaInvalid } from "../hpa_checks.ts";
import { servtdAttributesValid, servtdBindingsLock, servtdTypeSupported } from "../servtd.ts";
import { maxServtds, servtdOf } from "../servtd_state.ts";

export const tdhServtdPrebind: LeafHandler = (ctx) => {
  const r = checkTdr(ctx, ctx.in("tdr_pa"), ctx.operandOf("tdr_pa"), "shared");
  if (r.fail) return r.fail;
  const td = r.value;
  const bad = checkTdState(ctx, td, "shared");
  if (bad) return bad;
  const hashPa = ctx.in("servtd_info_hash_pa");
  const hashOp = ctx.spec.seamcall("TDH.SERVTD.PREBIND").memory_operands!
    .find((m) => m.name === "servtd_info_hash")!;
  if (sharedHpaInvalid(ctx, hashPa, BigInt(hashOp.size), BigInt(hashOp.alignment))) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("servtd_info_hash_pa"));
  }
  const slot = ctx.in("servtd_slot");
  if (slot >= BigInt(maxServtds(ctx.spec))) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("servtd_slot"));
  }
  const type = ctx.in("servtd_type");
  if (type > 0xFFFFn || !servtdTypeSupported(ctx.spec, type)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("servtd_type"));
  }
  const attributes = ctx.in("servtd_attr");
  if (!servtdAttributesValid(ctx.spec, attributes)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("servtd_attr"));
  }
  const busy = ctx.lock(servtdBindingsLock(td.tdr), "exclusive", "SERVTD_BINDINGS");
  if (busy) return busy;
  const servtd = servtdOf(ctx.spec, td);
  const b = servtd.bindings[Number(slot)];
  if (b.state === "SERVTD_BOUND") return ctx.status("TDX_SERVTD_BOUND");
  if (b.state === "SERVTD_NOT_BOUND") servtd.num++;
  b.type = type;
  b.attributes = attributes;
  b.infoHash = ctx.cpu.memory.read(hashPa, hashOp.size);
  b.state = "SERVTD_PRE_BOUND";
  return ctx.ok();
};
