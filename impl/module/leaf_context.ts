// What a leaf handler sees: its spec item, the caller's registers read and written
// by the names the spec gives them, the CPU, the module state, and helpers that
// turn a status name into a completion value.
import type { LeafItem, Register, Spec } from "../spec/mod.ts";
import { decodeBits, encodeBits } from "../spec/bits.ts";
import type { Cpu, LogicalProcessor } from "../cpu/cpu.ts";
import type { Gpr, Registers } from "../cpu/registers.ts";
import { type Completion, completion } from "./completion.ts";
import type { ModuleState } from "./state.ts";

export class LeafContext {
  /** Lock owner id: one per call. */
  readonly owner: string;
  private static calls = 0;

  constructor(
    readonly spec: Spec,
    readonly cpu: Cpu,
    readonly lp: LogicalProcessor,
    readonly state: ModuleState,
    readonly leaf: LeafItem,
    readonly version: number,
    readonly regs: Registers,
  ) {
    this.owner = `lp${lp.id}:${leaf.name}:${++LeafContext.calls}`;
  }

  private register(list: Register[], name: string, what: string): Register {
    const r = list.find((x) => x.name === name);
    if (!r) throw new Error(`${this.leaf.name} has no ${what} register named ${name} in the spec`);
    return r;
  }

  /** The value of the input register the spec names `name`. */
  in(name: string): bigint {
    return this.regs[this.register(this.leaf.inputs, name, "input").reg as Gpr];
  }

  /** The input register's bit fields, decoded by its spec layout. */
  inFields(name: string): Record<string, bigint> {
    const r = this.register(this.leaf.inputs, name, "input");
    const fields = r.fields ?? this.spec.bitfield(r.bitfield!).fields;
    return decodeBits(fields, this.regs[r.reg as Gpr]).fields;
  }

  /** The operand id a status names when input `name` is at fault. */
  operandOf(name: string): string {
    const r = this.register(this.leaf.inputs, name, "input");
    return r.operand_id ?? r.reg;
  }

  out(name: string, value: bigint): void {
    this.regs[this.register(this.leaf.outputs, name, "output").reg as Gpr] = value &
      0xFFFF_FFFF_FFFF_FFFFn;
  }

  outFields(name: string, values: Record<string, bigint>): void {
    const r = this.register(this.leaf.outputs, name, "output");
    const fields = r.fields ?? this.spec.bitfield(r.bitfield!).fields;
    this.regs[r.reg as Gpr] = encodeBits(fields, values);
  }

  ok(): Completion {
    return completion(this.spec, "TDX_SUCCESS");
  }

  /** A completion with a status from the spec and, optionally, an operand id or detail. */
  status(name: string, detail?: string | bigint): Completion {
    return completion(this.spec, name, detail);
  }

  /** TDX_OPERAND_BUSY for `operand` when `resource` is locked by someone else; undefined once locked. */
  lock(resource: string, mode: "shared" | "exclusive", operand: string): Completion | undefined {
    if (this.state.locks.tryAcquire(resource, mode, this.owner)) return undefined;
    return completion(this.spec, "TDX_OPERAND_BUSY", operand);
  }

  releaseLocks(): void {
    this.state.locks.releaseAll(this.owner);
  }
}

export type LeafHandler = (ctx: LeafContext) => Completion;
