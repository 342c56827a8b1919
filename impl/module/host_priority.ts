// Host-priority back-off as the guest sees it. A guest-side lock that finds the host asked
// for priority (sept.ts lockEntryGuest, rtmr_lock.ts) makes the TDCALL leaf answer
// TDX_OPERAND_BUSY_HOST_PRIORITY; the TDCALL dispatcher then, for every TDCALL that returns
// to the guest:
// - turns that status into TDX_OPERAND_BUSY with the same detail (older guests know only it);
// - the first time, notes on the vCPU that it is backing off and the TSC at that moment;
// - when the vCPU is already backing off and the TSC has advanced by at least the TD's
//   HP_LOCK_TIMEOUT (TSC ticks), forgets the back-off and ends the TDCALL (the guest's RAX
//   holds the busy status) with a trap-like TD exit TDX_HOST_PRIORITY_BUSY_TIMEOUT with an
//   empty exit reason, so the host learns that its stuck lock starves the guest;
// - any other outcome ends the back-off.
// A TDCALL that already left the TD (EPT violation, TDG.VP.VMCALL, a cross-TD trap) does not
// come back to the dispatcher, so it leaves the back-off as it was.
//
// HP_LOCK_TIMEOUT is written and read in microseconds but kept in native TSC ticks.
import type { Spec } from "../spec/mod.ts";
import type { Cpu, LogicalProcessor } from "../cpu/cpu.ts";
import type { Registers } from "../cpu/registers.ts";
import { type Completion, completion } from "./completion.ts";
import type { MdContext, MdFieldHandler } from "./metadata.ts";
import { nativeTscHz as sampledTscHz } from "./platform_sample.ts";
import type { ModuleState, TdState } from "./state.ts";
import { tdxLimit } from "./td_limits.ts";

const USEC_PER_SECOND = 1_000_000n;
const U32 = 0xFFFF_FFFFn;
const U64 = 0xFFFF_FFFF_FFFF_FFFFn;

/** The CPU's TSC frequency in Hz, from the CPUID TDH.SYS.INIT sampled. */
export function nativeTscHz(spec: Spec, cpu: Cpu, state: ModuleState): bigint {
  return sampledTscHz(spec, cpu, state.platform.sampled);
}

function usecToTsc(usec: bigint, hz: bigint): bigint {
  return (usec * hz) / USEC_PER_SECOND;
}

/** The TD's HP_LOCK_TIMEOUT in TSC ticks (the default until the host writes one). */
export function hpLockTimeoutTsc(spec: Spec, cpu: Cpu, state: ModuleState, td: TdState): bigint {
  return td.hpLockTimeoutTsc ??
    usecToTsc(tdxLimit(spec, "DEFAULT_HP_LOCK_TIMEOUT_USEC"), nativeTscHz(spec, cpu, state));
}

function tdOf(c: MdContext): TdState {
  if (!c.td) throw new Error("HP_LOCK_TIMEOUT without a TD");
  return c.td;
}

/** HP_LOCK_TIMEOUT metadata: microseconds outside, TSC ticks inside. */
export const hpLockTimeoutField: MdFieldHandler = {
  read: (c) => {
    const hz = nativeTscHz(c.spec, c.cpu, c.state);
    let ticks = hpLockTimeoutTsc(c.spec, c.cpu, c.state, tdOf(c));
    // The module clamps so that the multiplication cannot overflow 64 bits.
    if (ticks >= U64 / USEC_PER_SECOND) ticks = U64 / USEC_PER_SECOND;
    return hz === 0n ? 0n : (ticks * USEC_PER_SECOND) / hz;
  },
  write: (c, _el, value) => {
    const min = tdxLimit(c.spec, "MIN_HP_LOCK_TIMEOUT_USEC");
    const max = tdxLimit(c.spec, "MAX_HP_LOCK_TIMEOUT_USEC");
    if (value < min || value > max) return { status: "TDX_METADATA_FIELD_VALUE_NOT_VALID" };
    // A written timeout is kept as 32 bits of ticks, as the module stores it.
    tdOf(c).hpLockTimeoutTsc = usecToTsc(value, nativeTscHz(c.spec, c.cpu, c.state)) & U32;
    return undefined;
  },
};

export interface TdcallEnv {
  spec: Spec;
  cpu: Cpu;
  state: ModuleState;
}

/**
 * Runs one guest TDCALL (`run` dispatches it) and applies the dispatcher's host-priority
 * rule to its completion. A TDCALL with no TD vCPU behind it is returned as it is.
 */
export function guestTdcall(
  env: TdcallEnv,
  lp: LogicalProcessor,
  regs: Registers,
  run: () => Completion,
): Completion {
  const tdvpr = env.state.lpCurrentVcpu.get(lp.id);
  const vcpu = tdvpr === undefined ? undefined : env.state.vcpus.get(tdvpr);
  const exitBefore = vcpu?.pendingExit;
  const c = run();
  const td = vcpu && env.state.tds.get(vcpu.tdr);
  if (!vcpu || !td) return c;
  // The TDCALL ended in a TD exit and never got back to the dispatcher.
  if (vcpu.pendingExit !== undefined && vcpu.pendingExit !== exitBefore) return c;
  if (c.name !== "TDX_OPERAND_BUSY_HOST_PRIORITY") {
    vcpu.hpLockBusySince = undefined;
    return c;
  }
  const busy = completion(env.spec, "TDX_OPERAND_BUSY", c.status & U32);
  const named = { ...busy, detail: c.detail };
  const tsc = env.cpu.rdmsrNamed(lp.id, "IA32_TIME_STAMP_COUNTER") ?? 0n;
  if (vcpu.hpLockBusySince === undefined) {
    vcpu.hpLockBusySince = tsc;
    return named;
  }
  // Unsigned 64-bit difference, as the module computes it.
  if (((tsc - vcpu.hpLockBusySince) & U64) >= hpLockTimeoutTsc(env.spec, env.cpu, env.state, td)) {
    vcpu.hpLockBusySince = undefined;
    const empty = env.spec.enum("VMX_EXIT_REASON").values.find((v) => BigInt(v.value) === 0n)!;
    vcpu.pendingExit = {
      kind: "async",
      status: "TDX_HOST_PRIORITY_BUSY_TIMEOUT",
      reason: empty.name,
      regs,
    };
    env.cpu.requestTdExit(lp);
  }
  return named;
}
