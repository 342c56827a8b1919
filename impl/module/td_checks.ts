// The vCPU-side checks TD and vCPU leaves share, in the module's order: the TDVPR
// operand (address, TDMR, PAMT lock, page type) and the implicit TDR behind it, the
// vCPU's TDVPS page count and its association with the calling logical processor.
// The TDR operand and TD state checks are in td_gate.ts.
import type { LeafContext } from "./leaf_context.ts";
import { checkAndLockHpa } from "./hpa_checks.ts";
import { lockKey, type LockMode } from "./locks.ts";
import type { TdState, VcpuState } from "./state.ts";
import { requiredTdvpsPages } from "./td_limits.ts";
import type { Gate } from "./td_gate.ts";

type Checked<T> = Gate<T>;

/** The TDR a TDVPR's PAMT entry names as owner, locked with operand id TDR. */
export function implicitTdr(ctx: LeafContext, tdr: bigint, lock: LockMode): Checked<TdState> {
  const busy = ctx.lock(lockKey.page(tdr), lock, "TDR");
  if (busy) return { fail: busy };
  const td = ctx.state.tds.get(tdr);
  if (!td) throw new Error(`no TD with TDR 0x${tdr.toString(16)}`);
  return { value: td };
}

/** An explicit TDVPR operand (at `pa`) and its implicit TDR; both locked. */
export function explicitTdvpr(
  ctx: LeafContext,
  pa: bigint,
  operand: string,
  lock: LockMode,
  tdrLock: LockMode = "shared",
): Checked<{ vcpu: VcpuState; td: TdState }> {
  const r = checkAndLockHpa(ctx, pa, operand, { expectedType: "PT_TDVPR", lock });
  if (r.fail) return { fail: r.fail };
  const tdr = implicitTdr(ctx, r.entry.owner!, tdrLock);
  if (tdr.fail) return { fail: tdr.fail };
  const vcpu = ctx.state.vcpus.get(pa);
  if (!vcpu) throw new Error(`PAMT says PT_TDVPR at 0x${pa.toString(16)} but no vCPU is recorded`);
  return { value: { vcpu, td: tdr.value } };
}

/** The vCPU has every TDVPS page its TD's L2 VM count asks for. */
export function tdvpsComplete(ctx: LeafContext, td: TdState, vcpu: VcpuState): boolean {
  return 1 + vcpu.tdcx.length >= requiredTdvpsPages(ctx.spec, td.numL2Vms ?? 0);
}

/**
 * Associates the vCPU with the calling LP unless it is associated with another one
 * (TDX_VCPU_ASSOCIATED). Returns true for a new association.
 */
export function associateVcpu(
  ctx: LeafContext,
  td: TdState,
  vcpu: VcpuState,
): Checked<boolean> {
  if (vcpu.associatedLp !== undefined && vcpu.associatedLp !== ctx.lp.id) {
    return { fail: ctx.status("TDX_VCPU_ASSOCIATED") };
  }
  if (vcpu.associatedLp === ctx.lp.id) return { value: false };
  vcpu.associatedLp = ctx.lp.id;
  td.vcpusAssociated.add(vcpu.tdvpr);
  return { value: true };
}

/** The vCPU is READY (or DISABLED, where that is allowed), then associated. */
export function checkAndAssociateVcpu(
  ctx: LeafContext,
  td: TdState,
  vcpu: VcpuState,
  allowDisabled: boolean,
): Checked<boolean> {
  const ok = vcpu.state === "initialized" || (allowDisabled && vcpu.state === "disabled");
  if (!ok) return { fail: ctx.status("TDX_VCPU_STATE_INCORRECT") };
  return associateVcpu(ctx, td, vcpu);
}
