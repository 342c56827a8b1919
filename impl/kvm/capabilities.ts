// KVM_CHECK_EXTENSION: which capabilities exist and, for a TD's VM fd, their per-VM
// values. Capability numbers are the spec's tdx_values of KVM_CHECK_EXTENSION.
import { tdxValue } from "./ioctl_number.ts";
import type { KvmHost } from "./kvm_host.ts";

/** What a VM fd contributes to the answer (undefined: asked on /dev/kvm). */
export interface VmCapView {
  isTd: boolean;
  maxVcpus: number;
}

export function checkExtension(host: KvmHost, vm: VmCapView | undefined, cap: bigint): bigint {
  const spec = host.spec;
  const c = (name: string) => tdxValue(spec, "KVM_CHECK_EXTENSION", name);
  const td = vm?.isTd ?? false;
  switch (cap) {
    case c("KVM_CAP_VM_TYPES"):
      return supportedVmTypes(host);
    case c("KVM_CAP_MAX_VCPUS"):
      return vm ? BigInt(vm.maxVcpus) : tdxValue(spec, "KVM_CREATE_VCPU", "KVM_MAX_VCPUS");
    case c("KVM_CAP_MEMORY_ATTRIBUTES"):
      return !vm || td
        ? tdxValue(spec, "KVM_SET_MEMORY_ATTRIBUTES", "KVM_MEMORY_ATTRIBUTE_PRIVATE")
        : 0n;
    case c("KVM_CAP_GUEST_MEMFD"):
    case c("KVM_CAP_USER_MEMORY2"):
    case c("KVM_CAP_SPLIT_IRQCHIP"):
    case c("KVM_CAP_PRE_FAULT_MEMORY"):
      return 1n;
    case c("KVM_CAP_GUEST_MEMFD_FLAGS"): {
      const mmap = tdxValue(spec, "KVM_CREATE_GUEST_MEMFD", "GUEST_MEMFD_FLAG_MMAP");
      const shared = tdxValue(spec, "KVM_CREATE_GUEST_MEMFD", "GUEST_MEMFD_FLAG_INIT_SHARED");
      return td ? mmap : mmap | shared;
    }
    case c("KVM_CAP_READONLY_MEM"):
    case c("KVM_CAP_X86_SMM"):
      return td ? 0n : 1n;
    case c("KVM_CAP_SYNC_REGS"):
      return td ? 0n : c("KVM_SYNC_X86_VALID_FIELDS");
    case c("KVM_CAP_EXIT_HYPERCALL"):
      return tdxValue(spec, "KVM_ENABLE_CAP", "BIT(KVM_HC_MAP_GPA_RANGE) in args[0]");
    default:
      return 0n;
  }
}

/** KVM_CAP_VM_TYPES: the default VM always, a TD when TDX is enabled. */
export function supportedVmTypes(host: KvmHost): bigint {
  const spec = host.spec;
  let mask = 1n << spec.enumValue("kvm_vm_type", "KVM_X86_DEFAULT_VM");
  if (host.tdxEnabled) mask |= 1n << spec.enumValue("kvm_vm_type", "KVM_X86_TDX_VM");
  return mask;
}
