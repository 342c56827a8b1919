// /dev/kvm: the KVM API version, capability queries and VM creation.
import type { Cpu } from "../cpu/cpu.ts";
import type { DecodedStruct } from "../spec/codec.ts";
import { checkExtension, supportedVmTypes } from "./capabilities.ts";
import { fail, type Failure, type IoctlResult, isFailure } from "./errno.ts";
import { ioctlNumber, tdxValue } from "./ioctl_number.ts";
import { intArg, type IoctlHandler, KvmFile } from "./kvm_file.ts";
import { KvmHost, type KvmOptions } from "./kvm_host.ts";
import { fieldOffset, fixedSize } from "./struct_layout.ts";
import { type UserArg, UserPointer } from "./user_memory.ts";
import { encodeArg, KvmVm } from "./vm.ts";

export class DevKvm extends KvmFile {
  protected readonly unknownIoctlErrno = "EINVAL";

  constructor(readonly host: KvmHost) {
    super(host.spec);
  }

  protected install(file: KvmFile): number {
    return this.host.installFile(file);
  }

  protected handlers(): [string, IoctlHandler][] {
    const spec = this.spec;
    return [
      [
        "KVM_GET_API_VERSION",
        (a) =>
          intArg(a) !== 0n
            ? fail("EINVAL")
            : tdxValue(spec, "KVM_GET_API_VERSION", "KVM_API_VERSION"),
      ],
      ["KVM_CHECK_EXTENSION", (a) => checkExtension(this.host, undefined, intArg(a))],
      ["KVM_CREATE_VM", (a) => this.createVmIoctl(intArg(a))],
      [
        "KVM_GET_VCPU_MMAP_SIZE",
        (a) =>
          intArg(a) !== 0n
            ? fail("EINVAL")
            : tdxValue(spec, "KVM_GET_VCPU_MMAP_SIZE", "mmap size on x86"),
      ],
      ["KVM_GET_SUPPORTED_CPUID", (a) => this.supportedCpuid(a)],
    ];
  }

  private createVmIoctl(type: bigint): KvmVm | Failure {
    if (type >= 32n || !(supportedVmTypes(this.host) & (1n << type))) return fail("EINVAL");
    if (!this.host.kmalloc()) return fail("ENOMEM");
    return new KvmVm(this.host, type);
  }

  /** The host CPUID as KVM can expose it: basic and extended leaves, sub-leaf 0. */
  private supportedCpuid(a: UserArg): bigint | Failure {
    const { spec, host } = this;
    const ptr = new UserPointer(host.user, a);
    const head = ptr.read(0, fieldOffset(spec, "kvm_cpuid2", "entries"));
    if (isFailure(head)) return head;
    const room = new DataView(head.buffer).getUint32(fieldOffset(spec, "kvm_cpuid2", "nent"), true);
    if (room === 0) return fail("E2BIG");
    if (!host.kmalloc()) return fail("ENOMEM");
    const entries: DecodedStruct[] = [];
    const leaf = (n: string) => Number(spec.enumValue("CPUID_LEAF", n));
    for (const base of [leaf("MAX_BASIC"), leaf("MAX_EXTENDED")]) {
      const max = host.cpu.cpuid.read(host.lp, base, 0).eax;
      for (let l = base; l <= max; l++) {
        const v = host.cpu.cpuid.read(host.lp, l, 0);
        entries.push({
          function: l,
          index: 0,
          flags: 0,
          eax: v.eax,
          ebx: v.ebx,
          ecx: v.ecx,
          edx: v.edx,
        });
      }
    }
    if (room < entries.length) return fail("E2BIG");
    const out = host.codec.encode("kvm_cpuid2", { nent: entries.length, entries });
    if (out.length > head.length + room * fixedSize(spec, "kvm_cpuid_entry2")) return fail("E2BIG");
    return ptr.write(0, out) ?? 0n;
  }

  call(name: string, arg?: UserArg | DecodedStruct): IoctlResult<KvmFile> {
    return this.ioctl(ioctlNumber(this.spec, name), encodeArg(this, name, arg));
  }

  createVm(name = "KVM_X86_TDX_VM"): IoctlResult<KvmFile> & { vm?: KvmVm } {
    const r = this.call("KVM_CREATE_VM", this.spec.enumValue("kvm_vm_type", name));
    return { ...r, vm: r.file as KvmVm | undefined };
  }

  checkExtension(cap: string): bigint {
    return this.call("KVM_CHECK_EXTENSION", tdxValue(this.spec, "KVM_CHECK_EXTENSION", cap)).ret;
  }
}

/** open("/dev/kvm"): loads KVM on the CPU (reading the TDX module's metadata) and returns the file. */
export function openDevKvm(cpu: Cpu, options: KvmOptions = {}): DevKvm {
  const host = new KvmHost(cpu, options);
  const dev = new DevKvm(host);
  host.installFile(dev);
  return dev;
}
