// The vCPU's mmapped kvm_run page, read and written through the spec's kvm_run layout:
// the header fields and the exit union, viewed as the struct the exit reason selects.
import type { Spec } from "../spec/mod.ts";
import type { DecodedStruct, StructCodec } from "../spec/codec.ts";
import { fieldOffset } from "./struct_layout.ts";

export class KvmRun {
  private readonly view: DataView;
  private readonly exitAt: number;

  constructor(
    readonly spec: Spec,
    readonly codec: StructCodec,
    /** The whole mapping: kvm_run, then the PIO data page, then the MMIO ring page. */
    readonly bytes: Uint8Array,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.exitAt = fieldOffset(spec, "kvm_run", "exit");
  }

  private at(field: string): number {
    return fieldOffset(this.spec, "kvm_run", field);
  }

  get exitReason(): number {
    return this.view.getUint32(this.at("exit_reason"), true);
  }

  /** The exit reason's name from spec/enum/kvm_exit_reason.yaml. */
  get exitReasonName(): string | undefined {
    return this.spec.enum("kvm_exit_reason").values.find((v) =>
      Number(BigInt(v.value)) === this.exitReason
    )
      ?.name;
  }

  setExitReason(name: string): void {
    this.view.setUint32(
      this.at("exit_reason"),
      Number(this.spec.enumValue("kvm_exit_reason", name)),
      true,
    );
  }

  get immediateExit(): boolean {
    return this.bytes[this.at("immediate_exit")] !== 0;
  }

  set immediateExit(v: boolean) {
    this.bytes[this.at("immediate_exit")] = v ? 1 : 0;
  }

  get flags(): number {
    return this.view.getUint16(this.at("flags"), true);
  }

  set flags(v: number) {
    this.view.setUint16(this.at("flags"), v, true);
  }

  get validRegs(): bigint {
    return this.view.getBigUint64(this.at("kvm_valid_regs"), true);
  }

  get dirtyRegs(): bigint {
    return this.view.getBigUint64(this.at("kvm_dirty_regs"), true);
  }

  /** The exit union decoded as `struct` (e.g. kvm_run_tdx_get_quote). */
  exit(struct: string): DecodedStruct {
    return this.codec.decode(struct, this.bytes.subarray(this.exitAt)).value;
  }

  /** Writes the exit union as `struct`; the rest of the 256-byte union is cleared. */
  setExit(struct: string, value: DecodedStruct): void {
    const size = this.spec.struct("kvm_run").fields.find((f) => f.name === "exit")!.size!;
    this.bytes.fill(0, this.exitAt, this.exitAt + size);
    this.bytes.set(this.codec.encode(struct, value), this.exitAt);
  }

  /** One u64 of the exit union at a field of `struct` (how KVM reads back `ret`). */
  exitField(struct: string, field: string): bigint {
    return this.view.getBigUint64(this.exitAt + fieldOffset(this.spec, struct, field), true);
  }

  setExitField(struct: string, field: string, value: bigint): void {
    this.view.setBigUint64(this.exitAt + fieldOffset(this.spec, struct, field), value, true);
  }
}
