import { strict as assert } from "node:assert";
import { Platform } from "../module/testing/fixture.ts";
import { openDevKvm } from "./dev_kvm.ts";
import { ioctlNumber, tdxValue } from "./ioctl_number.ts";
import type { KvmVm } from "./vm.ts";

function devKvm(tdxEnabled = true) {
  const p = new Platform();
  if (tdxEnabled) p.readyPlatform();
  return openDevKvm(p.cpu, {
    tdxEnabled,
    hostMemory: [{ base: 0x1_0000_0000n, size: 16n << 20n }],
  });
}

Deno.test("KVM_GET_API_VERSION is 12 and wants a zero argument", () => {
  const kvm = devKvm(false);
  assert.equal(kvm.call("KVM_GET_API_VERSION", 0).ret, 12n);
  const bad = kvm.call("KVM_GET_API_VERSION", 1);
  assert.deepEqual([bad.ret, bad.errnoName], [-1n, "EINVAL"]);
  assert.equal(kvm.call("KVM_GET_VCPU_MMAP_SIZE", 0).ret, 0x3000n);
  assert.equal(kvm.call("KVM_GET_VCPU_MMAP_SIZE", 2).errnoName, "EINVAL");
});

Deno.test("an ioctl a file does not handle fails as Linux does for that file", () => {
  const kvm = devKvm(false);
  // /dev/kvm: kvm_arch_dev_ioctl says EINVAL; a VM fd says ENOTTY.
  assert.equal(kvm.ioctl(ioctlNumber(kvm.spec, "KVM_RUN")).errnoName, "EINVAL");
  const vm = kvm.createVm("KVM_X86_DEFAULT_VM").vm!;
  assert.equal(vm.ioctl(ioctlNumber(kvm.spec, "KVM_RUN"), 0).errnoName, "ENOTTY");
  assert.equal(vm.ioctl(0xAEFFn).errnoName, "ENOTTY");
  // KVM_MEMORY_ENCRYPT_OP on an ordinary VM: no TDX behind it.
  assert.equal(vm.call("KVM_MEMORY_ENCRYPT_OP", new Uint8Array(24)).errnoName, "ENOTTY");
});

Deno.test("KVM_CAP_VM_TYPES has the TD bit only when TDX is usable", () => {
  const off = devKvm(false);
  assert.equal(off.checkExtension("KVM_CAP_VM_TYPES"), 1n);
  const r = off.createVm("KVM_X86_TDX_VM");
  assert.deepEqual([r.ret, r.errnoName], [-1n, "EINVAL"]);
  assert.equal(off.call("KVM_CREATE_VM", 32).errnoName, "EINVAL");
  assert.equal(off.createVm("KVM_X86_SEV_VM").errnoName, "EINVAL");
  assert.equal(off.createVm("KVM_X86_DEFAULT_VM").errno, 0);
});

Deno.test("host-wide capability answers on /dev/kvm", () => {
  const kvm = devKvm(false);
  const cap = (n: string) => kvm.checkExtension(n);
  assert.equal(cap("KVM_CAP_MAX_VCPUS"), tdxValue(kvm.spec, "KVM_CREATE_VCPU", "KVM_MAX_VCPUS"));
  assert.equal(cap("KVM_CAP_READONLY_MEM"), 1n);
  assert.equal(cap("KVM_CAP_GUEST_MEMFD_FLAGS"), 0x3n);
  assert.equal(cap("KVM_CAP_MEMORY_ATTRIBUTES"), 0x8n);
  assert.equal(cap("KVM_CAP_EXIT_HYPERCALL"), 0x1000n);
  assert.equal(cap("KVM_CAP_USER_MEMORY2"), 1n);
  assert.equal(kvm.call("KVM_CHECK_EXTENSION", 0xFFFF).ret, 0n);
});

Deno.test("fds are numbered from 3 in the process's table", () => {
  const kvm = devKvm(false);
  assert.equal(kvm.fd, 3);
  const vm = kvm.createVm("KVM_X86_DEFAULT_VM") as { ret: bigint; vm?: KvmVm };
  assert.equal(vm.ret, 4n);
  assert.equal(kvm.host.file(4), vm.vm);
});
