// Test support: a CPU with the reference TDX module loaded, and calls by leaf name.
import { type Spec, theSpec } from "../../spec/mod.ts";
import { Cpu, DEFAULT_PLATFORM, type PlatformConfig } from "../../cpu/cpu.ts";
import { seamcallByName } from "../../cpu/leaf_call.ts";
import { TdxModule } from "../module.ts";
import { describeStatus } from "../completion.ts";

export interface CallResult {
  status: bigint;
  /** Status name from the spec (detail bits cleared), or undefined for an unknown value. */
  name: string | undefined;
  detail: bigint;
  /** The operand name the detail encodes, when it is an OPERAND_ID. */
  operand: string | undefined;
  out: Record<string, bigint>;
}

export class Platform {
  readonly spec: Spec;
  readonly cpu: Cpu;
  readonly module: TdxModule;

  constructor(config: PlatformConfig = DEFAULT_PLATFORM) {
    this.spec = theSpec();
    this.cpu = new Cpu(this.spec, config);
    this.module = new TdxModule(this.spec, this.cpu);
    this.cpu.loadModule(this.module);
  }

  describe(status: bigint): Omit<CallResult, "out" | "status"> {
    const { name, detail } = describeStatus(this.spec, status);
    const operand = this.spec.enum("OPERAND_ID").values.find((v) => BigInt(v.value) === detail)
      ?.name;
    return { name, detail, operand };
  }

  /** SEAMCALL by leaf name with inputs by register name. */
  seamcall(
    name: string,
    inputs: Record<string, bigint | number> = {},
    opts: { lp?: number; version?: number } = {},
  ): CallResult {
    const r = seamcallByName(this.cpu, opts.lp ?? 0, name, inputs, opts.version ?? 0);
    if (r.outcome.kind !== "completed") {
      throw new Error(`SEAMCALL ${name} ended with ${r.outcome.kind}`);
    }
    return { status: r.status, ...this.describe(r.status), out: r.out };
  }
}
