// The guest kernel's TDX primitives: TDCALLs by spec name with Linux's mapping of a
// failed status to an errno, and TDVMCALLs (TDG.VP.VMCALL with the GHCI register
// convention), which exit to the host and therefore suspend the guest program.
import type { Spec } from "../spec/mod.ts";
import { encodeBits } from "../spec/bits.ts";
import type { GuestPort } from "../cpu/guest_execution.ts";
import { type LeafCallResult, leafRegisters, tdcallByName } from "../cpu/leaf_call.ts";
import type { Gpr } from "../cpu/registers.ts";
import type { Errno } from "./errno.ts";

/** The status with its detail bits (TDX_STATUS.details_l2) cleared, as Linux compares it. */
export function statusCode(spec: Spec, status: bigint): bigint {
  const d = spec.bitfield("TDX_STATUS").fields.find((f) => f.name === "details_l2")!;
  const width = BigInt(d.bits[1] - d.bits[0] + 1);
  return status & ~(((1n << width) - 1n) << BigInt(d.bits[0]));
}

/** Linux's errno for a failed TDG.MR.REPORT / TDG.MR.RTMR.EXTEND; undefined on success. */
export function tdcallErrno(spec: Spec, status: bigint): Errno | undefined {
  if (status === spec.statusValue("TDX_SUCCESS")) return undefined;
  const code = statusCode(spec, status);
  if (code === spec.statusValue("TDX_OPERAND_INVALID")) return "ENXIO";
  if (code === spec.statusValue("TDX_OPERAND_BUSY")) return "EBUSY";
  return "EIO";
}

/** A TDCALL that must complete as an instruction (a fault means the kernel is broken). */
export function tdcall(
  spec: Spec,
  port: GuestPort,
  name: string,
  inputs: Record<string, bigint | number> = {},
): LeafCallResult {
  const r = tdcallByName(spec, port, name, inputs);
  if (r.outcome.kind !== "completed") throw new Error(`TDCALL ${name} raised ${r.outcome.kind}`);
  return r;
}

/** x86 register numbers, the bit positions of TDG.VP.VMCALL's GPR_SELECT. */
const GPR_NUMBER: Partial<Record<Gpr, number>> = {
  RAX: 0,
  RCX: 1,
  RDX: 2,
  RBX: 3,
  RSP: 4,
  RBP: 5,
  RSI: 6,
  RDI: 7,
  R8: 8,
  R9: 9,
  R10: 10,
  R11: 11,
  R12: 12,
  R13: 13,
  R14: 14,
  R15: 15,
};

/** R10 = 0 asks for a GHCI-standard TDVMCALL (the sub-function goes in R11). */
const GHCI_STANDARD = 0n;

export interface TdvmcallResult {
  /** The TDVMCALL status the host returned (R10). */
  status: bigint;
  /** Output registers by their spec names (status included). */
  out: Record<string, bigint>;
}

/**
 * TDG.VP.VMCALL<name>: exposes the registers the TDVMCALL's spec item uses, exits to
 * the host (the program yields here) and reads the host's answer once resumed.
 */
export function* tdvmcall(
  spec: Spec,
  port: GuestPort,
  name: string,
  args: Record<string, bigint | number> = {},
): Generator<void, TdvmcallResult, void> {
  const call = spec.tdvmcall(name);
  const leaf = spec.tdcall("TDG.VP.VMCALL");
  let select = 0n;
  for (const r of [...call.inputs, ...call.outputs]) {
    const n = GPR_NUMBER[r.reg as Gpr];
    if (n === undefined) throw new Error(`${name} uses ${r.reg}, which TDG.VP.VMCALL cannot pass`);
    select |= 1n << BigInt(n);
  }
  const controlFields = leaf.inputs.find((r) => r.name === "control")!.fields!;
  const regs = leafRegisters(spec, leaf, {
    control: encodeBits(controlFields, { GPR_SELECT: select }),
  });
  for (const r of call.inputs) {
    let v: bigint;
    if (r.name === "call_type") v = GHCI_STANDARD;
    else if (r.name === "subfunction") v = BigInt(call.subfunction);
    else if (r.name in args) v = BigInt(args[r.name]);
    else v = 0n;
    regs[r.reg as Gpr] = v & 0xFFFF_FFFF_FFFF_FFFFn;
  }
  const outcome = port.tdcall(regs);
  if (outcome.kind !== "completed") throw new Error(`TDG.VP.VMCALL raised ${outcome.kind}`);
  // Linux panics when the TDCALL itself fails: the module refused the exit.
  if (regs.RAX !== spec.statusValue("TDX_SUCCESS") && !port.exitRequested) {
    throw new Error(
      `guest kernel panic: TDG.VP.VMCALL<${name}> failed with 0x${regs.RAX.toString(16)}`,
    );
  }
  if (port.exitRequested) yield;
  const out: Record<string, bigint> = {};
  for (const r of call.outputs) out[r.name] = regs[r.reg as Gpr];
  return { status: out.status ?? 0n, out };
}
