// Resolving a TD's fault on a GPA (kvm_mmu_page_fault / kvm_tdp_page_prefault): a private
// GPA is served from the memslot's guest_memfd and mapped into the Secure EPT; a shared
// GPA is mapped from the VMM's memory, which costs no SEAMCALL.
import { fail, type Failure, isFailure } from "./errno.ts";
import { tdxValue } from "./ioctl_number.ts";
import type { KvmVcpu } from "./vcpu.ts";

export type FaultOutcome = "mapped" | "mmio" | Failure;

/** kvm_mmu_prepare_memory_fault_exit: tell the VMM the access and the attribute disagree. */
export function memoryFaultExit(vcpu: KvmVcpu, gpa: bigint, isPrivate: boolean): Failure {
  const spec = vcpu.spec;
  vcpu.runPage.setExitReason("KVM_EXIT_MEMORY_FAULT");
  vcpu.runPage.setExit("kvm_run_memory_fault", {
    flags: isPrivate ? tdxValue(spec, "KVM_RUN", "KVM_MEMORY_EXIT_FLAG_PRIVATE") : 0n,
    gpa,
    size: 4096n,
  });
  return fail("EFAULT");
}

/**
 * Faults in the page at `gpa` (shared bit already tested by the caller). `isPrivate` is
 * the access kind; `exitOnMismatch` reports a memory-attribute mismatch to userspace.
 */
export function faultIn(vcpu: KvmVcpu, gpa: bigint, isPrivate: boolean): FaultOutcome {
  const { vm } = vcpu;
  const spec = vm.spec;
  const PRIVATE = tdxValue(spec, "KVM_SET_MEMORY_ATTRIBUTES", "KVM_MEMORY_ATTRIBUTE_PRIVATE");
  const addr = gpa & ~vm.td.sharedBit;
  const gfn = addr >> 12n;
  const attrPrivate = (vm.attributes.get(gfn) & PRIVATE) !== 0n;
  if (isPrivate !== attrPrivate) return memoryFaultExit(vcpu, addr, isPrivate);
  const slot = vm.memslots.find(gfn);
  if (!slot) return "mmio";
  if (!isPrivate) return "mapped";
  if (!slot.hasGmem || !slot.gmem) return memoryFaultExit(vcpu, addr, isPrivate);
  const hpa = slot.gmem.getPfn(slot.gmemPgoff + (gfn - slot.base));
  if (isFailure(hpa)) return hpa;
  const r = vm.sept.mapPrivate(vcpu.cpu, gfn << 12n, hpa);
  return isFailure(r) ? r : "mapped";
}
