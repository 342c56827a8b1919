import { strict as assert } from "node:assert";
import { KvmSession } from "./kvm_layer.ts";

const cap = (s: KvmSession, fd: string, cap: string, arg: string) =>
  s.step("kvm.ioctl", {
    fd,
    ioctl: "KVM_ENABLE_CAP",
    arg: { struct: "kvm_enable_cap", fields: { cap, "args.0": arg } },
  });

Deno.test("kvm.ioctl: files get names, failures an errno name", () => {
  const s = new KvmSession();
  assert.deepEqual(s.step("kvm.ioctl", { fd: "kvm", ioctl: "KVM_GET_API_VERSION" }), {
    ret: "0xC",
  });
  assert.deepEqual(s.step("kvm.ioctl", { fd: "kvm", ioctl: "KVM_CREATE_VM", arg: "0x20" }), {
    errno: "EINVAL",
  });
  assert.deepEqual(s.step("kvm.ioctl", { fd: "kvm", ioctl: "KVM_CREATE_VM", arg: "0x5" }), {
    fd: "vm",
  });
  assert.deepEqual(s.step("kvm.ioctl", { fd: "kvm", ioctl: "KVM_CREATE_VM", arg: "0x0" }), {
    fd: "vm1",
  });
  assert.deepEqual(s.step("kvm.ioctl", { fd: "vm", ioctl: "KVM_ENABLE_CAP", arg: "0x100" }), {
    errno: "EFAULT",
  });
  assert.deepEqual(cap(s, "vm", "0x79", "0x18"), { ret: "0x0" });
  assert.deepEqual(s.step("kvm.ioctl", { fd: "nope", ioctl: "KVM_RUN" }).error, {
    class: "invalid-input",
    detail: "no file named nope",
  });
  assert.deepEqual(s.step("kvm.frobnicate", {}).error, {
    class: "unsupported-op",
    op: "kvm.frobnicate",
  });
});

Deno.test("kvm.ioctl: a kvm_tdx_cmd's data struct is placed, read back, its address named", () => {
  const s = new KvmSession();
  s.step("kvm.ioctl", { fd: "kvm", ioctl: "KVM_CREATE_VM", arg: "0x5" });
  const r = s.step("kvm.ioctl", {
    fd: "vm",
    ioctl: "KVM_MEMORY_ENCRYPT_OP",
    arg: {
      struct: "kvm_tdx_cmd",
      fields: { id: "0x0" },
      data_struct: {
        struct: "kvm_tdx_capabilities",
        fields: { "cpuid.nent": "0x1" },
        size: 2096,
        read_back: true,
      },
    },
  });
  assert.equal(r.errno, "E2BIG");
  assert.deepEqual(r.out, { id: "0x0", flags: "0x0", data: "$mem:data", hw_error: "0x0" });
  assert.equal((r.data as Record<string, string>)["cpuid.nent"], "0x1");
});

Deno.test("kvm.run: KVM_RUN errors report the exit reason as kvm_run holds it", () => {
  const s = new KvmSession();
  s.step("kvm.ioctl", { fd: "kvm", ioctl: "KVM_CREATE_VM", arg: "0x0" });
  s.step("kvm.ioctl", { fd: "vm", ioctl: "KVM_CREATE_VCPU", arg: "0x0" });
  assert.deepEqual(s.step("kvm.run", { fd: "vcpu0", arg: "0x1" }), {
    errno: "EINVAL",
    exit_reason: "KVM_EXIT_UNKNOWN",
  });
  assert.equal(s.step("kvm.run", { fd: "vm" }).error !== undefined, true);
});
