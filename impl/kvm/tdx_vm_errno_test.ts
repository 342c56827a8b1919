// Every errno of the VM-fd KVM_TDX commands, each provoked the way Linux reaches it.
import { strict as assert } from "node:assert";
import { lockKey } from "../module/locks.ts";
import {
  buildTd,
  capabilities,
  defaultCpuid,
  initVmBytes,
  type KvmBed,
  kvmBed,
} from "./testing/kvm_fixture.ts";
import { type ErrnoRow, runErrnoTable } from "./testing/errno_table.ts";
import { tdxCommand } from "./tdx_commands.ts";
import type { CpuidEntry } from "./tdx_cpuid.ts";
import { leafNumber, withGuestPaBits } from "./tdx_cpuid.ts";
import type { KvmVm } from "./vm.ts";
import type { DecodedStruct } from "../spec/codec.ts";

function freshVm(opts = {}): { bed: KvmBed; vm: KvmVm } {
  const bed = kvmBed(opts);
  const vm = bed.kvm.createVm().vm!;
  vm.enableCap("KVM_CAP_SPLIT_IRQCHIP", [24n]);
  return { bed, vm };
}

function capsBuffer(vm: KvmVm, room: number): bigint {
  const addr = vm.host.user.mmap(2056 + 40 * Math.max(room, 1))!;
  const nent = new Uint8Array(4);
  new DataView(nent.buffer).setUint32(0, room, true);
  vm.host.user.write(addr + 2048n, nent);
  return addr;
}

Deno.test("KVM_TDX_CAPABILITIES: every errno the spec lists", () => {
  const spec = freshVm().vm.spec;
  const caps = (setup: (vm: KvmVm) => void, room?: number, flags = 0, hw = 0n) => () => {
    const { vm } = freshVm();
    setup(vm);
    return tdxCommand(vm, "KVM_TDX_CAPABILITIES", capsBuffer(vm, room ?? 64), flags, hw);
  };
  runErrnoTable(spec, { kind: "kvm_tdx_command", name: "KVM_TDX_CAPABILITIES" }, [
    { errno: "EINVAL", why: "flags not 0", run: caps(() => {}, 64, 1) },
    { errno: "EINVAL", why: "hw_error preset", run: caps(() => {}, 64, 0, 1n) },
    {
      errno: "EFAULT",
      why: "nent unreadable",
      run: () => tdxCommand(freshVm().vm, "KVM_TDX_CAPABILITIES", 0x10n),
    },
    {
      errno: "E2BIG",
      why: "room for fewer entries than NUM_CPUID_CONFIG",
      run: () => {
        const { vm } = freshVm();
        return tdxCommand(
          vm,
          "KVM_TDX_CAPABILITIES",
          capsBuffer(vm, vm.host.sysinfo!.numCpuidConfig - 1),
        );
      },
    },
    {
      errno: "EIO",
      why: "KVM's XFAM no longer meets XFAM_FIXED1",
      run: caps((vm) => (vm.host.supportedXfam = 0n)),
    },
    { errno: "ENOMEM", why: "kzalloc fails", run: caps((vm) => (vm.host.kmallocFailures = 1)) },
  ]);
});

function initVm(
  vm: KvmVm,
  entries?: CpuidEntry[],
  over: DecodedStruct = {},
  flags = 0,
  hw = 0n,
  arm = () => {},
) {
  const data = vm.host.user.place(initVmBytes(vm, entries ?? defaultCpuid(vm), over));
  arm();
  return tdxCommand(vm, "KVM_TDX_INIT_VM", data, flags, hw);
}

function withLeaf(vm: KvmVm, fn: number, change: (e: CpuidEntry) => void): CpuidEntry[] {
  return defaultCpuid(vm).map((e) => {
    const c = { ...e };
    if (c.function === fn && c.index === 0) change(c);
    return c;
  });
}

Deno.test("KVM_TDX_INIT_VM: every errno the spec lists", () => {
  const spec = freshVm().vm.spec;
  const sizes = leafNumber(spec, "ADDRESS_SIZES");
  const leaf7 = leafNumber(spec, "EXT_FEATURES");
  const bit = (bf: string, f: string) =>
    1 << spec.bitfield(bf).fields.find((x) => x.name === f)!.bits[0];
  const row = (
    errno: string,
    why: string,
    go: (vm: KvmVm, bed: KvmBed) => { errno: number; errnoName?: string },
    opts = {},
  ): ErrnoRow => ({
    errno,
    why,
    run: () => {
      const { vm, bed } = freshVm(opts);
      return go(vm, bed);
    },
  });
  runErrnoTable(spec, { kind: "kvm_tdx_command", name: "KVM_TDX_INIT_VM" }, [
    row("EINVAL", "already initialised", (vm) => (initVm(vm), initVm(vm))),
    row("EINVAL", "flags not 0", (vm) => initVm(vm, undefined, {}, 1)),
    row("EINVAL", "hw_error preset", (vm) => initVm(vm, undefined, {}, 0, 5n)),
    row(
      "EINVAL",
      "reserved bytes set",
      (vm) => initVm(vm, undefined, { reserved: new Uint8Array(96).fill(1) }),
    ),
    row("EINVAL", "cpuid.padding set", (vm) => {
      const entries = defaultCpuid(vm);
      const bytes = initVmBytes(vm, entries);
      bytes[256 + 4] = 1;
      return tdxCommand(vm, "KVM_TDX_INIT_VM", vm.host.user.place(bytes));
    }),
    row(
      "EINVAL",
      "DEBUG attribute (KVM offers SEPT_VE_DISABLE only)",
      (vm) => initVm(vm, undefined, { attributes: 1n }),
    ),
    row(
      "EINVAL",
      "an XFAM bit KVM does not support",
      (vm) => initVm(vm, undefined, { xfam: 1n << 8n }),
    ),
    row(
      "EINVAL",
      "no leaf 0x80000008",
      (vm) => initVm(vm, defaultCpuid(vm).filter((e) => e.function !== sizes)),
    ),
    row(
      "EINVAL",
      "GPAW 50",
      (vm) => initVm(vm, withLeaf(vm, sizes, (e) => (e.eax = withGuestPaBits(spec, 0, 50)))),
    ),
    row(
      "EINVAL",
      "GPAW 52 without 5-level EPT",
      (vm) => initVm(vm, withLeaf(vm, sizes, (e) => (e.eax = withGuestPaBits(spec, 0, 52)))),
      { ept5Level: false },
    ),
    row(
      "EINVAL",
      "TSX requested",
      (vm) => initVm(vm, withLeaf(vm, leaf7, (e) => (e.ebx = bit("CPUID_07_00_EBX", "RTM")))),
    ),
    row(
      "EINVAL",
      "WAITPKG requested",
      (vm) => initVm(vm, withLeaf(vm, leaf7, (e) => (e.ecx = bit("CPUID_07_00_ECX", "WAITPKG")))),
    ),
    row(
      "EINVAL",
      "a leaf the module does not let the host configure",
      (vm) =>
        initVm(vm, [...defaultCpuid(vm), {
          function: 0x4000_0000,
          index: 0,
          flags: 0,
          eax: 0,
          ebx: 0,
          ecx: 0,
          edx: 0,
        }]),
    ),
    row("EINVAL", "TDH.MNG.INIT refuses the TSC frequency", (vm) => {
      vm.call("KVM_SET_TSC_KHZ", 50_000);
      const r = initVm(vm);
      assert.equal(vm.host.seam.is(r.cmd.hw_error as bigint, "TDX_OPERAND_INVALID"), true);
      assert.equal(vm.dead, false);
      return r;
    }),
    row(
      "E2BIG",
      "257 CPUID entries",
      (vm) =>
        initVm(
          vm,
          Array.from(
            { length: 257 },
            (_, i) => ({ function: i, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 }),
          ),
        ),
    ),
    row("EBUSY", "a vCPU is being created", (vm) => ((vm.vcpusInCreation = 1), initVm(vm))),
    row(
      "EBUSY",
      "the misc cgroup's TDX key limit is reached",
      (vm) => ((vm.host.tdxKeyLimit = 0), initVm(vm)),
    ),
    row("ENOSPC", "no free HKID", (vm) => {
      while (vm.host.keyIds.alloc() !== undefined);
      return initVm(vm);
    }),
    row("EAGAIN", "TDH.MNG.CREATE has no entropy", (vm, bed) => {
      bed.platform.cpu.blockRng(true);
      bed.mark();
      const r = initVm(vm);
      // Every SEAMCALL wrapper retries TDX_RND_NO_ENTROPY RDRAND_RETRY_LOOPS times.
      assert.deepEqual(bed.calls(), Array(10).fill("TDH.MNG.CREATE"));
      assert.equal(vm.dead, false);
      return r;
    }),
    row("EIO", "a package has no online CPU", (vm) => {
      for (const lp of vm.host.cpu.lps) {
        if (vm.host.packageOf(lp.id) === 1) vm.host.onlineLps.delete(lp.id);
      }
      return initVm(vm);
    }),
    row("EIO", "TDH.MNG.KEY.CONFIG fails (the VM is dead)", (vm, bed) => {
      // A PCONFIG in flight on package 1 holds its key table.
      bed.platform.cpu.setKeyTableBusy(1, true);
      const r = initVm(vm);
      assert.equal(vm.dead, true);
      return r;
    }),
    row("EFAULT", "kvm_tdx_init_vm unreadable", (vm) => tdxCommand(vm, "KVM_TDX_INIT_VM", 0x40n)),
    row("EFAULT", "kvm_tdx_cmd cannot be written back", (vm) => {
      const data = vm.host.user.place(initVmBytes(vm, defaultCpuid(vm)));
      const cmd = vm.host.user.place(vm.host.codec.encode("kvm_tdx_cmd", {
        id: Number(spec.enumValue("kvm_tdx_cmd_id", "KVM_TDX_INIT_VM")),
        flags: 0,
        data,
        hw_error: 0n,
      }));
      vm.host.user.protect(cmd, 24);
      return vm.call("KVM_MEMORY_ENCRYPT_OP", cmd);
    }),
    row(
      "ENOMEM",
      "the copy of kvm_tdx_init_vm cannot be allocated",
      (vm) => initVm(vm, undefined, {}, 0, 0n, () => (vm.host.kmallocFailures = 1)),
    ),
    row(
      "ENOMEM",
      "no page for the TDR",
      (vm) => initVm(vm, undefined, {}, 0, 0n, () => (vm.host.pages.limit = vm.host.pages.inUse)),
    ),
    row(
      "EINTR",
      "a fatal signal while taking the vCPU locks",
      (vm) => ((vm.host.signals.fatal = true), initVm(vm)),
    ),
  ]);
});

Deno.test("a failed KVM_TDX_INIT_VM after TDH.MNG.CREATE gives the HKID and the pages back", () => {
  const { vm, bed } = freshVm();
  vm.call("KVM_SET_TSC_KHZ", 50_000);
  bed.mark();
  assert.equal(initVm(vm).errnoName, "EINVAL");
  const calls = bed.calls();
  const init = calls.indexOf("TDH.MNG.INIT");
  assert.deepEqual(calls.slice(init + 1, init + 2), ["TDH.MNG.VPFLUSHDONE"]);
  assert.equal(calls[calls.length - 1], "TDH.PHYMEM.PAGE.WBINVD");
  assert.equal(vm.td.hkid, undefined);
  assert.deepEqual([vm.td.tdr, vm.td.tdcs], [undefined, undefined]);
  // The VM is alive: the VMM may retry with a valid frequency.
  vm.call("KVM_SET_TSC_KHZ", 2_000_000);
  assert.equal(initVm(vm).errno, 0);
});

Deno.test("KVM_TDX_FINALIZE_VM: every errno the spec lists", () => {
  const spec = freshVm().vm.spec;
  const fin = (vm: KvmVm, hw = 0n) => tdxCommand(vm, "KVM_TDX_FINALIZE_VM", 0n, 0, hw);
  const built = (go: (vm: KvmVm, bed: KvmBed) => { errno: number; errnoName?: string }) => () => {
    const bed = kvmBed();
    const { vm } = buildTd(bed);
    return go(vm, bed);
  };
  runErrnoTable(spec, { kind: "kvm_tdx_command", name: "KVM_TDX_FINALIZE_VM" }, [
    { errno: "EINVAL", why: "the TD is not initialised", run: () => fin(freshVm().vm) },
    { errno: "EINVAL", why: "already finalised", run: built((vm) => (fin(vm), fin(vm))) },
    { errno: "EINVAL", why: "hw_error preset", run: built((vm) => fin(vm, 1n)) },
    {
      errno: "EBUSY",
      why: "TDH.MR.FINALIZE finds the TDR busy",
      run: built((vm, bed) => {
        bed.platform.module.state.locks.hold(lockKey.page(vm.td.tdr!), "exclusive");
        const r = fin(vm);
        assert.ok(vm.host.seam.is(r.cmd.hw_error as bigint, "TDX_OPERAND_BUSY"));
        return r;
      }),
    },
    {
      errno: "EBUSY",
      why: "a vCPU is being created",
      run: built((vm) => ((vm.vcpusInCreation = 1), fin(vm))),
    },
    {
      errno: "EIO",
      why: "TDH.MR.FINALIZE fails otherwise (no vCPU yet)",
      run: () => {
        const bed = kvmBed();
        const { vm } = buildTd(bed, { vcpus: 0 });
        const r = fin(vm);
        assert.ok(vm.host.seam.is(r.cmd.hw_error as bigint, "TDX_NO_VCPUS"));
        assert.equal(vm.dead, true);
        // A dead VM refuses every later ioctl.
        assert.equal(vm.checkExtension("KVM_CAP_MAX_VCPUS"), -1n);
        return r;
      },
    },
    {
      errno: "EFAULT",
      why: "kvm_tdx_cmd unreadable",
      run: built((vm) => vm.call("KVM_MEMORY_ENCRYPT_OP", 0x10n)),
    },
    {
      errno: "EINTR",
      why: "fatal signal",
      run: built((vm) => ((vm.host.signals.fatal = true), fin(vm))),
    },
  ]);
});

Deno.test("KVM_MEMORY_ENCRYPT_OP on a VM fd: every errno the spec lists", () => {
  const spec = freshVm().vm.spec;
  const caps = (vm: KvmVm, id = "KVM_TDX_CAPABILITIES") => tdxCommand(vm, id, capsBuffer(vm, 64));
  runErrnoTable(spec, { kind: "ioctl", name: "KVM_MEMORY_ENCRYPT_OP" }, [
    {
      errno: "ENOTTY",
      why: "an ordinary VM",
      run: () =>
        kvmBed().kvm.createVm("KVM_X86_DEFAULT_VM").vm!.call(
          "KVM_MEMORY_ENCRYPT_OP",
          new Uint8Array(24),
        ),
    },
    {
      errno: "EINVAL",
      why: "a vCPU of an ordinary VM",
      run: () => {
        const vm = kvmBed().kvm.createVm("KVM_X86_DEFAULT_VM").vm!;
        return vm.createVcpu(0).vcpu!.call("KVM_MEMORY_ENCRYPT_OP", new Uint8Array(24));
      },
    },
    {
      errno: "EINVAL",
      why: "hw_error preset",
      run: () => tdxCommand(freshVm().vm, "KVM_TDX_CAPABILITIES", 0n, 0, 1n),
    },
    {
      errno: "EINVAL",
      why: "a vCPU command on the VM fd",
      run: () => caps(freshVm().vm, "KVM_TDX_GET_CPUID"),
    },
    {
      errno: "EINVAL",
      why: "KVM_TDX_CMD_NR_MAX",
      run: () => caps(freshVm().vm, "KVM_TDX_CMD_NR_MAX"),
    },
    {
      errno: "EFAULT",
      why: "kvm_tdx_cmd unreadable",
      run: () => freshVm().vm.call("KVM_MEMORY_ENCRYPT_OP", new Uint8Array(8)),
    },
    {
      errno: "EBUSY",
      why: "a vCPU is being created",
      run: () => {
        const { vm } = freshVm();
        vm.vcpusInCreation = 1;
        // KVM_TDX_CAPABILITIES takes no lock, so it still works.
        assert.equal(caps(vm).errno, 0);
        return initVm(vm);
      },
    },
    {
      errno: "EINTR",
      why: "fatal signal",
      run: () => {
        const { vm } = freshVm();
        vm.host.signals.fatal = true;
        return initVm(vm);
      },
    },
  ]);
});

Deno.test("capabilities report the configurable CPUID bits as KVM presents them", () => {
  const { vm } = freshVm();
  const caps = capabilities(vm);
  const spec = vm.spec;
  const entries = (caps.cpuid as DecodedStruct).entries as {
    function: number;
    index: number;
    eax: number;
    ebx: number;
    ecx: number;
  }[];
  const sizes = entries.find((e) => e.function === leafNumber(spec, "ADDRESS_SIZES"))!;
  assert.equal((sizes.eax >> 16) & 0xFF, 0xFF);
  const l7 = entries.find((e) => e.function === 7 && e.index === 0);
  if (l7) {
    assert.equal(l7.ebx & ((1 << 4) | (1 << 11)), 0);
    assert.equal(l7.ecx & (1 << 5), 0);
  }
  const attrs = caps.supported_attrs as bigint;
  assert.equal(attrs, tdxValueAttrs(vm));
});

function tdxValueAttrs(vm: KvmVm): bigint {
  // KVM offers SEPT_VE_DISABLE only, as far as ATTRIBUTES_FIXED0 allows.
  const f = vm.spec.bitfield("TD_ATTRIBUTES").fields.find((x) => x.name === "SEPT_VE_DISABLE")!;
  return (1n << BigInt(f.bits[0])) & vm.host.sysinfo!.attributesFixed0;
}
