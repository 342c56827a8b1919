// MSR checks the TD leaves make on the calling logical processor: IA32_TSC_ADJUST must
// still hold what TDH.SYS.INIT sampled (the host must not shift the TSC under a TD),
// and the TSC itself (IA32_TIME_STAMP_COUNTER) for the rollback check.
import type { LeafContext } from "./leaf_context.ts";

export function lpMsr(ctx: LeafContext, name: string): bigint {
  return ctx.cpu.rdmsrNamed(ctx.lp.id, name) ?? 0n;
}

export function tscAdjustConsistent(ctx: LeafContext): boolean {
  const index = ctx.cpu.msrs.index("IA32_TSC_ADJUST");
  const sampled = ctx.state.platform.sampled?.msrs.get(index) ?? ctx.cpu.msrs.read(index) ?? 0n;
  return lpMsr(ctx, "IA32_TSC_ADJUST") === sampled;
}

export function tscOf(ctx: LeafContext): bigint {
  return lpMsr(ctx, "IA32_TIME_STAMP_COUNTER");
}
