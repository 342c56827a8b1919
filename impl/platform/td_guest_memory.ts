// The guest's memory accesses, wired the way the CPU resolves them: a private GPA
// walks the TD's Secure EPT (the module's) and is accessed with the TD's private
// KeyID; a GPA with the shared bit reaches the VMM's memory behind the memslot, which
// is what the host's shared EPT maps. A composition root: it reads module and KVM state.
import type { Spec } from "../spec/mod.ts";
import type { Cpu } from "../cpu/cpu.ts";
import type { ModuleState } from "../module/state.ts";
import { translateGpa } from "../module/sept.ts";
import type { KvmVm } from "../kvm/mod.ts";
import type { GuestMemory } from "../guest/guest_memory.ts";
import type { TdMemory } from "../vmm/td_memory.ts";

const PAGE = 4096n;

export class TdGuestMemory implements GuestMemory {
  memory?: TdMemory;

  constructor(
    private readonly spec: Spec,
    private readonly cpu: Cpu,
    private readonly module: ModuleState,
    private readonly vm: KvmVm,
  ) {}

  private each(
    gpa: bigint,
    length: number,
    f: (pa: bigint | undefined, gpa: bigint, at: number, n: number) => void,
  ) {
    let done = 0;
    while (done < length) {
      const a = gpa + BigInt(done);
      const n = Math.min(length - done, Number(PAGE - (a & (PAGE - 1n))));
      f(this.private(a), a, done, n);
      done += n;
    }
  }

  /** The physical address (with KeyID) of a private GPA, or undefined for a shared one. */
  private private(gpa: bigint): bigint | undefined {
    if (gpa & this.vm.td.sharedBit) return undefined;
    const td = this.module.tds.get(this.vm.td.tdr!);
    if (!td) throw new Error("the TD does not exist in the module");
    const t = translateGpa(this.spec, td, gpa);
    if (!t.ok) throw new Error(`guest access to unmapped private GPA 0x${gpa.toString(16)}`);
    return this.cpu.memory.withKeyId(t.hpa, td.hkid);
  }

  read(gpa: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.each(gpa, length, (pa, a, at, n) => {
      const bytes = pa === undefined
        ? this.memory!.read(a & ~this.vm.td.sharedBit, n)
        : this.cpu.memory.read(pa, n);
      out.set(bytes, at);
    });
    return out;
  }

  write(gpa: bigint, bytes: Uint8Array): void {
    this.each(gpa, bytes.length, (pa, a, at, n) => {
      const part = bytes.subarray(at, at + n);
      if (pa === undefined) this.memory!.write(a & ~this.vm.td.sharedBit, part);
      else this.cpu.memory.write(pa, part);
    });
  }
}
