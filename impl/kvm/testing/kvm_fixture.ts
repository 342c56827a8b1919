// Test support: a SYS_READY platform (the fixture's bring-up, as the host kernel's TDX
// code does it) with /dev/kvm opened on it, and the VMM steps that build a TD.
import { Platform } from "../../module/testing/fixture.ts";
import type { CallRecord } from "../../module/module.ts";
import { openDevKvm } from "../dev_kvm.ts";
import type { DevKvm } from "../dev_kvm.ts";
import type { KvmOptions } from "../kvm_host.ts";
import type { DecodedStruct } from "../../spec/codec.ts";
import {
  cpuid2Bytes,
  initVmBytes as initVmBytesOf,
  setCpuid2,
  tdxCapabilities,
  tdxInitVcpu,
  tdxInitVm,
} from "../tdx_commands.ts";

export { cpuid2Bytes };
import type { CpuidEntry } from "../tdx_cpuid.ts";
import { entryFromStruct, leafNumber, withGuestPaBits } from "../tdx_cpuid.ts";
import type { KvmVm } from "../vm.ts";
import type { KvmVcpu } from "../vcpu.ts";
import type { GuestMemfd } from "../guest_memfd.ts";
import { tdxValue } from "../ioctl_number.ts";
export const HOST_MEMORY = 64n << 20n;

export interface KvmBed {
  platform: Platform;
  kvm: DevKvm;
  /** SEAMCALL leaf names the module saw, in order, since `mark()`. */
  calls(): string[];
  mark(): void;
}

export function kvmBed(options: KvmOptions = {}, ready = true): KvmBed {
  const platform = new Platform();
  if (ready) platform.readyPlatform();
  const base = ready ? platform.allocRange(HOST_MEMORY, 4096n) : 0x1_0000_0000n;
  const kvm = openDevKvm(platform.cpu, {
    hostMemory: [{ base, size: HOST_MEMORY }],
    ...options,
  });
  const byNumber = new Map([...platform.spec.seamcalls.values()].map((l) => [l.leaf, l.name]));
  let seen: string[] = [];
  platform.module.observers.push((r: CallRecord) => {
    if (r.kind === "seamcall") seen.push(byNumber.get(r.leaf) ?? `leaf ${r.leaf}`);
  });
  return { platform, kvm, calls: () => [...seen], mark: () => (seen = []) };
}

/** The CPUID configuration a VMM passes to KVM_TDX_INIT_VM: every configurable leaf as offered, GPAW 48. */
export function defaultCpuid(vm: KvmVm): CpuidEntry[] {
  const caps = capabilities(vm);
  const spec = vm.spec;
  const significant = Number(tdxValue(spec, "KVM_SET_CPUID2", "KVM_CPUID_FLAG_SIGNIFCANT_INDEX"));
  return (caps.cpuid as DecodedStruct).entries
    ? ((caps.cpuid as DecodedStruct).entries as DecodedStruct[]).map(entryFromStruct).map((e) => {
      const out = { ...e, flags: significant, eax: 0, ebx: 0, ecx: 0, edx: 0 };
      if (e.function === leafNumber(spec, "ADDRESS_SIZES")) out.eax = withGuestPaBits(spec, 0, 48);
      return out;
    })
    : [];
}

export function capabilities(vm: KvmVm): DecodedStruct {
  const r = tdxCapabilities(vm);
  if (!r.caps) throw new Error(`KVM_TDX_CAPABILITIES failed: ${r.errnoName}`);
  return r.caps;
}

/** kvm_tdx_init_vm bytes for `entries`, with any field overridden. */
export function initVmBytes(
  vm: KvmVm,
  entries: CpuidEntry[],
  over: DecodedStruct = {},
): Uint8Array {
  const bytes = initVmBytesOf(vm, { cpuid: entries });
  if (!Object.keys(over).length) return bytes;
  const v = vm.host.codec.decode("kvm_tdx_init_vm", bytes).value;
  return vm.host.codec.encode("kvm_tdx_init_vm", { ...v, ...over });
}

export interface BuiltTd {
  vm: KvmVm;
  vcpus: KvmVcpu[];
  gmem?: GuestMemfd;
}

/** The VMM's steps up to a given point: VM, split irqchip, INIT_VM, vCPUs (+ CPUID, INIT_VCPU), memory. */
export function buildTd(bed: KvmBed, opts: {
  vcpus?: number;
  initVcpu?: boolean;
  memory?: { gpa: bigint; size: bigint; private?: boolean };
} = {}): BuiltTd {
  const vm = bed.kvm.createVm().vm!;
  const must = (what: string, r: { errno: number; errnoName?: string }) => {
    if (r.errno) throw new Error(`${what} failed: ${r.errnoName}`);
  };
  must("KVM_ENABLE_CAP(SPLIT_IRQCHIP)", vm.enableCap("KVM_CAP_SPLIT_IRQCHIP", [24n]));
  must(
    "KVM_ENABLE_CAP(EXIT_HYPERCALL)",
    vm.enableCap("KVM_CAP_EXIT_HYPERCALL", [
      tdxValue(vm.spec, "KVM_ENABLE_CAP", "BIT(KVM_HC_MAP_GPA_RANGE) in args[0]"),
    ]),
  );
  must("KVM_TDX_INIT_VM", tdxInitVm(vm, { cpuid: defaultCpuid(vm) }));
  const vcpus: KvmVcpu[] = [];
  for (let i = 0; i < (opts.vcpus ?? 1); i++) {
    const r = vm.createVcpu(i);
    must("KVM_CREATE_VCPU", r);
    const vcpu = r.vcpu!;
    must("KVM_SET_CPUID2", setCpuid2(vcpu, [x2apicLeaf(vm)]));
    if (opts.initVcpu ?? true) must("KVM_TDX_INIT_VCPU", tdxInitVcpu(vcpu));
    vcpus.push(vcpu);
  }
  let gmem: GuestMemfd | undefined;
  if (opts.memory) {
    const { gpa, size } = opts.memory;
    const g = vm.createGuestMemfd(size);
    must("KVM_CREATE_GUEST_MEMFD", g);
    gmem = g.gmem!;
    const shared = vm.host.user.mmap(size)!;
    must(
      "KVM_SET_USER_MEMORY_REGION2",
      vm.call("KVM_SET_USER_MEMORY_REGION2", {
        slot: 0,
        flags: Number(tdxValue(vm.spec, "KVM_SET_USER_MEMORY_REGION2", "KVM_MEM_GUEST_MEMFD")),
        guest_phys_addr: gpa,
        memory_size: size,
        userspace_addr: shared,
        guest_memfd_offset: 0n,
        guest_memfd: gmem.fd,
      }),
    );
    if (opts.memory.private ?? true) {
      must(
        "KVM_SET_MEMORY_ATTRIBUTES",
        vm.call("KVM_SET_MEMORY_ATTRIBUTES", {
          address: gpa,
          size,
          attributes: tdxValue(
            vm.spec,
            "KVM_SET_MEMORY_ATTRIBUTES",
            "KVM_MEMORY_ATTRIBUTE_PRIVATE",
          ),
          flags: 0n,
        }),
      );
    }
  }
  return { vm, vcpus, gmem };
}

/** CPUID leaf 1 with x2APIC, which KVM_TDX_INIT_VCPU needs in the vCPU's CPUID. */
export function x2apicLeaf(vm: KvmVm): CpuidEntry {
  const ecx = Number(
    vm.spec.bitfield("CPUID_01_ECX").fields.find((f) => f.name === "X2APIC")!.bits[0],
  );
  return {
    function: leafNumber(vm.spec, "VERSION_INFO"),
    index: 0,
    flags: 0,
    eax: 0,
    ebx: 0,
    ecx: 1 << ecx,
    edx: 0,
  };
}
