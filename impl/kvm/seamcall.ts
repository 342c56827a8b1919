// How the host kernel issues SEAMCALLs (arch/x86/virt/vmx/tdx): by leaf name with the
// spec's register names, a faulting SEAMCALL turned into Linux's software error codes,
// and the retry on TDX_RND_NO_ENTROPY that every wrapper but TDH.VP.ENTER applies.
import type { Cpu } from "../cpu/cpu.ts";
import { seamcallByName } from "../cpu/leaf_call.ts";
import type { Registers } from "../cpu/registers.ts";
import type { Spec } from "../spec/mod.ts";

export interface SeamcallResult {
  name: string;
  lp: number;
  /** RAX: the completion status (or a software error code if SEAMCALL faulted). */
  status: bigint;
  version: number;
  /** The inputs by spec register name, as issued. */
  inputs: Record<string, bigint | number>;
  out: Record<string, bigint>;
  regs: Registers;
}

export class Seamcaller {
  private readonly detailMask: bigint;
  /** Every SEAMCALL issued, in order (KVM's side of the trace). */
  readonly log: SeamcallResult[] = [];

  constructor(readonly cpu: Cpu, readonly spec: Spec, readonly rdrandRetries: number) {
    const details = spec.bitfield("TDX_STATUS").fields.find((f) => f.name === "details_l2")!;
    this.detailMask = (1n << BigInt(details.bits[1] + 1)) - 1n;
  }

  /** One SEAMCALL, no retry (as __seamcall and tdh_vp_enter issue it). */
  once(
    lp: number,
    name: string,
    inputs: Record<string, bigint | number> = {},
    version = 0,
  ): SeamcallResult {
    const r = seamcallByName(this.cpu, lp, name, inputs, version);
    const sw = {
      "#UD": "TDX_SEAMCALL_UD",
      "#GP": "TDX_SEAMCALL_GP",
      "VMfailInvalid": "TDX_SEAMCALL_VMFAILINVALID",
    } as const;
    const status = r.outcome.kind === "completed"
      ? r.status
      : this.spec.statusValue(sw[r.outcome.kind]);
    const result = { name, lp, version, status, inputs, out: r.out, regs: r.regs };
    this.log.push(result);
    return result;
  }

  /** seamcall()/seamcall_ret(): retried while the module reports no entropy. */
  call(
    lp: number,
    name: string,
    inputs: Record<string, bigint | number> = {},
    version = 0,
  ): SeamcallResult {
    const noEntropy = this.spec.statusValue("TDX_RND_NO_ENTROPY");
    let r: SeamcallResult;
    let tries = this.rdrandRetries;
    do r = this.once(lp, name, inputs, version); while (r.status === noEntropy && --tries > 0);
    return r;
  }

  /** The status with its detail bits cleared (TDX_SEAMCALL_STATUS_MASK). */
  code(status: bigint): bigint {
    return status & ~this.detailMask;
  }

  /** Whether `status` is the named status, ignoring its detail bits. */
  is(status: bigint, name: string): boolean {
    return this.code(status) === this.spec.statusValue(name);
  }

  /** Whether `status` is exactly the named status, detail included (Linux's err == X). */
  exactly(status: bigint, name: string): boolean {
    return status === this.spec.statusValue(name);
  }
}
