// TDH.SERVTD.BIND: binds a running service TD to a target TD in a binding slot. A first
// binding must come before the target is initialised; a pre-bound slot must match the
// type, attributes and TDINFO hash TDH.SERVTD.PREBIND recorded; a bound slot is re-bound
// (to the same instance when INSTANCE_BINDING is set, else to any instance with the same
// hash). Returns the binding handle and the target's TD_UUID.
import type { LeafHandler } from "../leaf_context.ts";
import type { LeafContext } from "../leaf_context.ts";
import type { Completion } from "../completion.ts";
import { checkTdr, checkTdState } from "../td_gate.ts";
import { lockRtmrHost } from "../rtmr_lock.ts";
import {
  bindingHandle,
  checkOtherTdState,
  servtdAttributesValid,
  servtdBindingsLock,
  servtdInfoHash,
  servtdTypeSupported,
  uuidWord,
} from "../servtd.ts";
import { maxServtds, type ServtdBinding, servtdOf } from "../servtd_state.ts";
import type { TdState } from "../state.ts";
import { decodeBits } from "../../spec/bits.ts";

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** The slot's checks and update by its state; a failure leaves the slot as it was. */
function bindSlot(
  ctx: LeafContext,
  target: TdState,
  servtdTd: TdState,
  b: ServtdBinding,
  type: bigint,
  attributes: bigint,
  hash: Uint8Array,
): Completion | undefined {
  const uuid = servtdTd.uuid ?? new Uint8Array(32);
  if (b.state === "SERVTD_NOT_BOUND") {
    if (target.opState !== "OP_STATE_UNINITIALIZED" && target.opState !== "OP_STATE_INITIALIZED") {
      return ctx.status("TDX_OP_STATE_INCORRECT");
    }
    Object.assign(b, { type, attributes, infoHash: hash, uuid: uuid.slice() });
    servtdOf(ctx.spec, target).num++;
    return undefined;
  }
  if (b.type !== type) return ctx.status("TDX_SERVTD_TYPE_MISMATCH");
  if (b.attributes !== attributes) return ctx.status("TDX_SERVTD_ATTR_MISMATCH");
  if (b.state === "SERVTD_PRE_BOUND") {
    if (!sameBytes(b.infoHash, hash)) return ctx.status("TDX_SERVTD_INFO_HASH_MISMATCH");
    b.uuid = uuid.slice();
    return undefined;
  }
  const instance = decodeBits(ctx.spec.bitfield("SERVTD_ATTRIBUTES").fields, attributes).fields
    .INSTANCE_BINDING === 1n;
  if (instance) {
    // The same instance re-binds; its measurement may have changed (RTMRs).
    if (!sameBytes(b.uuid, uuid)) return ctx.status("TDX_SERVTD_UUID_MISMATCH");
    b.infoHash = hash;
  } else {
    // Any instance with the same measurement may take the binding over.
    if (!sameBytes(b.infoHash, hash)) return ctx.status("TDX_SERVTD_INFO_HASH_MISMATCH");
    b.uuid = uuid.slice();
  }
  return undefined;
}

export const tdhServtdBind: LeafHandler = (ctx) => {
  // RCX and R10 are inputs and outputs: read every input before the outputs are zeroed.
  const tdrPa = ctx.in("tdr_pa");
  const servtdPa = ctx.in("servtd_tdr_pa");
  const slot = ctx.in("servtd_slot");
  const type = ctx.in("servtd_type");
  const attributes = ctx.in("servtd_attr");
  for (const r of ["binding_handle", "target_td_uuid_0", "target_td_uuid_1"]) ctx.out(r, 0n);
  for (const r of ["target_td_uuid_2", "target_td_uuid_3"]) ctx.out(r, 0n);
  if (servtdPa === tdrPa) return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("servtd_tdr_pa"));
  const t = checkTdr(ctx, tdrPa, ctx.operandOf("tdr_pa"), "shared");
  if (t.fail) return t.fail;
  const target = t.value;
  const bad = checkTdState(ctx, target, "shared");
  if (bad) return bad;
  const s = checkTdr(ctx, servtdPa, ctx.operandOf("servtd_tdr_pa"), "shared");
  if (s.fail) return s.fail;
  const servtdTd = s.value;
  const badServtd = checkOtherTdState(ctx, servtdTd);
  if (badServtd) return badServtd;
  if (slot >= BigInt(maxServtds(ctx.spec))) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("servtd_slot"));
  }
  if (type > 0xFFFFn || !servtdTypeSupported(ctx.spec, type)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("servtd_type"));
  }
  if (!servtdAttributesValid(ctx.spec, attributes)) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("servtd_attr"));
  }
  const busy = ctx.lock(servtdBindingsLock(target.tdr), "exclusive", "SERVTD_BINDINGS");
  if (busy) return busy;
  // The service TD's TDINFO is read under its RTMR lock.
  const rtmrBusy = lockRtmrHost(ctx, servtdTd);
  if (rtmrBusy) return rtmrBusy;
  const hash = servtdInfoHash(ctx.spec, servtdTd, attributes);
  const b = servtdOf(ctx.spec, target).bindings[Number(slot)];
  const refused = bindSlot(ctx, target, servtdTd, b, type, attributes, hash);
  if (refused) return refused;
  b.state = "SERVTD_BOUND";
  ctx.out("binding_handle", bindingHandle(ctx.spec, tdrPa, Number(slot), b.uuid));
  for (let i = 0; i < 4; i++) ctx.out(`target_td_uuid_${i}`, uuidWord(target.uuid, i));
  return ctx.ok();
};
