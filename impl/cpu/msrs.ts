// The MSRs of the modelled platform, addressed by the indices in spec/enum/msr_index.yaml.
import type { Spec } from "../spec/mod.ts";
import { encodeBits } from "../spec/bits.ts";

export class MsrFile {
  private readonly values = new Map<bigint, bigint>();
  constructor(private readonly spec: Spec) {}

  index(name: string): bigint {
    return this.spec.enumValue("MSR_INDEX", name);
  }
  /** RDMSR of an MSR the platform does not implement raises #GP(0). */
  read(index: bigint): bigint | undefined {
    return this.values.get(index);
  }
  write(index: bigint, value: bigint): void {
    this.values.set(index, value);
  }
  readNamed(name: string): bigint | undefined {
    return this.read(this.index(name));
  }
  writeNamed(name: string, value: bigint): void {
    this.write(this.index(name), value);
  }
  /** Writes an MSR from its named bit fields, using the bitfield item of the same name. */
  writeFields(name: string, fields: Record<string, bigint>): void {
    this.writeNamed(name, encodeBits(this.spec.bitfield(name).fields, fields));
  }
}
