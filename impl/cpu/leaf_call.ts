// Issuing SEAMCALL and TDCALL by a leaf's spec name: RAX and the input registers are
// built from the spec's register names, the outputs read back by name. This is how
// KVM (SEAMCALL) and guest software (TDCALL) talk to the module.
import type { LeafItem, Spec } from "../spec/mod.ts";
import { encodeBits } from "../spec/bits.ts";
import type { Cpu, InstructionOutcome } from "./cpu.ts";
import type { GuestPort } from "./guest_execution.ts";
import { type Gpr, type Registers, registers } from "./registers.ts";

export interface LeafCallResult {
  outcome: InstructionOutcome;
  /** RAX after the call (the completion status when the outcome is "completed"). */
  status: bigint;
  /** Output registers by their spec names. */
  out: Record<string, bigint>;
  regs: Registers;
}

export function leafRegisters(
  spec: Spec,
  leaf: LeafItem,
  inputs: Record<string, bigint | number>,
  version = 0,
): Registers {
  const layout = spec.bitfield(leaf.kind === "seamcall" ? "SEAMCALL_LEAF" : "TDCALL_LEAF").fields;
  const leafField = layout.find((f) => f.bits[0] === 0)!;
  const versionField = layout.find((f) => f.bits[0] === 16)!;
  const regs = registers();
  regs.RAX = encodeBits(layout, {
    [leafField.name]: BigInt(leaf.leaf),
    [versionField.name]: BigInt(version),
  });
  for (const [name, value] of Object.entries(inputs)) {
    const r = leaf.inputs.find((x) => x.name === name);
    if (!r) throw new Error(`${leaf.name} has no input register named ${name} in the spec`);
    regs[r.reg as Gpr] = BigInt(value) & 0xFFFF_FFFF_FFFF_FFFFn;
  }
  return regs;
}

export function readOutputs(leaf: LeafItem, regs: Registers): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const r of leaf.outputs) if (r.reg in regs) out[r.name] = regs[r.reg as Gpr];
  return out;
}

export function seamcallByName(
  cpu: Cpu,
  lpId: number,
  name: string,
  inputs: Record<string, bigint | number> = {},
  version = 0,
): LeafCallResult {
  const leaf = cpu.spec.seamcall(name);
  const regs = leafRegisters(cpu.spec, leaf, inputs, version);
  const outcome = cpu.seamcall(lpId, regs);
  return { outcome, status: regs.RAX, out: readOutputs(leaf, regs), regs };
}

export function tdcallByName(
  spec: Spec,
  port: GuestPort,
  name: string,
  inputs: Record<string, bigint | number> = {},
  version = 0,
): LeafCallResult {
  const leaf = spec.tdcall(name);
  const regs = leafRegisters(spec, leaf, inputs, version);
  const outcome = port.tdcall(regs);
  return { outcome, status: regs.RAX, out: readOutputs(leaf, regs), regs };
}
