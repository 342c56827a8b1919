// The MSRs KVM emulates for a TD vCPU (tdx_get_msr / tdx_set_msr), by the indices of
// spec/enum/kvm_tdx_emulated_msr.yaml. Values are KVM's per-vCPU copies; an MSR outside
// the set, or a write to a read-only one, is refused (the guest sees INVALID_OPERAND).
import type { Spec } from "../spec/mod.ts";
import { parseHex } from "../spec/hex.ts";

const READ_ONLY = ["IA32_APICBASE", "EFER", "IA32_FEAT_CTL"];
/** Ends of the index ranges the enum lists by their first and last MSR. */
const RANGES: [string, string | number][] = [
  ["MTRRphysBase_MSR_0", "MSR_MTRRfix4K_F8000"],
  // Machine-check banks: four MSRs per bank, KVM_MAX_MCE_BANKS (32) banks.
  ["IA32_MC0_CTL", 4 * 32 - 1],
];

export class EmulatedMsrs {
  private readonly values = new Map<bigint, bigint>();
  private readonly known = new Set<bigint>();
  private readonly readOnly = new Set<bigint>();
  private readonly ranges: [bigint, bigint][] = [];

  constructor(spec: Spec) {
    const e = spec.enum("kvm_tdx_emulated_msr");
    const idx = (n: string) => parseHex(e.values.find((v) => v.name === n)!.value);
    for (const v of e.values) this.known.add(parseHex(v.value));
    for (const n of READ_ONLY) this.readOnly.add(idx(n));
    for (const [lo, hi] of RANGES) {
      this.ranges.push([idx(lo), typeof hi === "string" ? idx(hi) : idx(lo) + BigInt(hi)]);
    }
  }

  private emulated(index: bigint): boolean {
    return this.known.has(index) || this.ranges.some(([lo, hi]) => index >= lo && index <= hi);
  }

  read(index: bigint): bigint | undefined {
    return this.emulated(index) ? this.values.get(index) ?? 0n : undefined;
  }

  /** False when the guest may not write this MSR. */
  write(index: bigint, value: bigint): boolean {
    if (!this.emulated(index) || this.readOnly.has(index)) return false;
    this.values.set(index, value);
    return true;
  }

  /** KVM's own writes (host-initiated), e.g. IA32_APICBASE at KVM_TDX_INIT_VCPU. */
  set(index: bigint, value: bigint): void {
    this.values.set(index, value);
  }
}
