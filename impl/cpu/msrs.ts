// The MSRs of the modelled platform, addressed by the indices in spec/enum/msr_index.yaml.
import type { Spec } from "../spec/mod.ts";
import { decodeBits, encodeBits } from "../spec/bits.ts";

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
  writeFields(name: string, fields: Record<string, bigint>, layout = name): void {
    this.writeNamed(name, this.encode(layout, fields));
  }
  /** A value from named bit fields of the bitfield item `layout`. */
  encode(layout: string, fields: Record<string, bigint>): bigint {
    return encodeBits(this.spec.bitfield(layout).fields, fields);
  }
  /** The named bit fields of an MSR value, by the bitfield item `layout`. */
  decode(layout: string, value: bigint): Record<string, bigint> {
    return decodeBits(this.spec.bitfield(layout).fields, value).fields;
  }
}
