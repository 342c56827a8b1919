// Every errno of the KVM ioctls a TD's VMM uses outside KVM_MEMORY_ENCRYPT_OP and KVM_RUN.
import { strict as assert } from "node:assert";
import type { DecodedStruct } from "../spec/codec.ts";
import { buildTd, cpuid2Bytes, kvmBed, x2apicLeaf } from "./testing/kvm_fixture.ts";
import { type ErrnoRow, runErrnoTable } from "./testing/errno_table.ts";
import { tdxCommand } from "./tdx_commands.ts";
import { tdxValue } from "./ioctl_number.ts";
import type { KvmVm } from "./vm.ts";
import type { DevKvm } from "./dev_kvm.ts";
import { defaultCpuid, initVmBytes } from "./testing/kvm_fixture.ts";

type Result = { errno: number; errnoName?: string };
const spec = kvmBed({}, false).platform.spec;
const PRIVATE = tdxValue(spec, "KVM_SET_MEMORY_ATTRIBUTES", "KVM_MEMORY_ATTRIBUTE_PRIVATE");
const GMEM = tdxValue(spec, "KVM_SET_USER_MEMORY_REGION2", "KVM_MEM_GUEST_MEMFD");

/** A TD VM after KVM_TDX_INIT_VM, no vCPU yet. */
function td(): KvmVm {
  return buildTd(kvmBed(), { vcpus: 0 }).vm;
}

function rows(make: () => KvmVm, list: [string, string, (vm: KvmVm) => Result][]): ErrnoRow[] {
  return list.map(([errno, why, go]) => ({ errno, why, run: () => go(make()) }));
}

function slot(vm: KvmVm, over: DecodedStruct = {}): DecodedStruct {
  const g = vm.createGuestMemfd(1n << 20n).gmem!;
  return {
    slot: 0,
    flags: Number(GMEM),
    guest_phys_addr: 0n,
    memory_size: 1n << 20n,
    userspace_addr: vm.host.user.mmap(1n << 20n)!,
    guest_memfd_offset: 0n,
    guest_memfd: g.fd,
    ...over,
  };
}

Deno.test("KVM_CREATE_VCPU: every errno the spec lists", () => {
  runErrnoTable(spec, { kind: "ioctl", name: "KVM_CREATE_VCPU" }, [
    {
      errno: "EIO",
      why: "before KVM_TDX_INIT_VM",
      run: () => kvmBed().kvm.createVm().vm!.createVcpu(0),
    },
    {
      errno: "EINVAL",
      why: "no split irqchip",
      run: () => {
        const bed = kvmBed();
        const vm = bed.kvm.createVm().vm!;
        tdxCommand(vm, "KVM_TDX_INIT_VM", vm.host.user.place(initVmBytes(vm, defaultCpuid(vm))));
        return vm.createVcpu(0);
      },
    },
    ...rows(td, [
      ["EINVAL", "id at KVM_MAX_VCPU_IDS", (vm) => vm.createVcpu(0x1000)],
      ["EINVAL", "the TD has its maximum of vCPUs", (vm) => {
        for (let i = 0; i < vm.maxVcpus; i++) vm.createVcpu(i);
        return vm.createVcpu(vm.maxVcpus);
      }],
      ["EEXIST", "the id is taken", (vm) => (vm.createVcpu(2), vm.createVcpu(2))],
      ["ENOMEM", "allocation fails", (vm) => ((vm.host.kmallocFailures = 1), vm.createVcpu(0))],
    ]),
  ]);
});

Deno.test("KVM_ENABLE_CAP: every errno the spec lists", () => {
  const fresh = () => kvmBed().kvm.createVm().vm!;
  runErrnoTable(
    spec,
    { kind: "ioctl", name: "KVM_ENABLE_CAP" },
    rows(fresh, [
      ["EINVAL", "flags not 0", (vm) => vm.enableCap("KVM_CAP_SPLIT_IRQCHIP", [24n], 1)],
      [
        "EINVAL",
        "KVM_CAP_MAX_VCPUS cannot be enabled",
        (vm) => vm.enableCap("KVM_CAP_MAX_VCPUS", [1n]),
      ],
      [
        "EINVAL",
        "more reserved I/O APIC routes than KVM has",
        (vm) => vm.enableCap("KVM_CAP_SPLIT_IRQCHIP", [4097n]),
      ],
      [
        "EINVAL",
        "a hypercall bit other than MAP_GPA_RANGE",
        (vm) => vm.enableCap("KVM_CAP_EXIT_HYPERCALL", [1n]),
      ],
      [
        "EEXIST",
        "split irqchip twice",
        (
          vm,
        ) => (vm.enableCap("KVM_CAP_SPLIT_IRQCHIP", [24n]),
          vm.enableCap("KVM_CAP_SPLIT_IRQCHIP", [24n])),
      ],
      ["EFAULT", "the structure is unreadable", (vm) => vm.call("KVM_ENABLE_CAP", 0x100n)],
    ]),
  );
});

Deno.test("KVM_CREATE_GUEST_MEMFD: every errno the spec lists", () => {
  const INIT_SHARED = tdxValue(spec, "KVM_CREATE_GUEST_MEMFD", "GUEST_MEMFD_FLAG_INIT_SHARED");
  runErrnoTable(
    spec,
    { kind: "ioctl", name: "KVM_CREATE_GUEST_MEMFD" },
    rows(td, [
      ["EINVAL", "INIT_SHARED on a TD", (vm) => vm.createGuestMemfd(0x1000n, INIT_SHARED)],
      ["EINVAL", "size 0", (vm) => vm.createGuestMemfd(0n)],
      ["EINVAL", "size negative", (vm) => vm.createGuestMemfd(1n << 63n)],
      ["EINVAL", "size not a multiple of 4 KiB", (vm) => vm.createGuestMemfd(0x1800n)],
      ["EFAULT", "the structure is unreadable", (vm) => vm.call("KVM_CREATE_GUEST_MEMFD", 0x100n)],
      [
        "ENOMEM",
        "allocation fails",
        (vm) => ((vm.host.kmallocFailures = 1), vm.createGuestMemfd(0x1000n)),
      ],
    ]),
  );
});

Deno.test("KVM_SET_USER_MEMORY_REGION2: every errno the spec lists", () => {
  const set = (vm: KvmVm, over: DecodedStruct = {}) =>
    vm.call("KVM_SET_USER_MEMORY_REGION2", slot(vm, over));
  runErrnoTable(
    spec,
    { kind: "ioctl", name: "KVM_SET_USER_MEMORY_REGION2" },
    rows(td, [
      ["EINVAL", "KVM_MEM_READONLY on a TD", (vm) =>
        set(vm, {
          flags: Number(tdxValue(spec, "KVM_SET_USER_MEMORY_REGION2", "KVM_MEM_READONLY")),
        })],
      ["EINVAL", "dirty logging with guest_memfd", (vm) =>
        set(vm, {
          flags: Number(
            GMEM | tdxValue(spec, "KVM_SET_USER_MEMORY_REGION2", "KVM_MEM_LOG_DIRTY_PAGES"),
          ),
        })],
      ["EINVAL", "size not page aligned", (vm) => set(vm, { memory_size: 0x1800n })],
      ["EINVAL", "GPA not page aligned", (vm) => set(vm, { guest_phys_addr: 0x10n })],
      [
        "EINVAL",
        "guest_memfd_offset not page aligned",
        (vm) => set(vm, { guest_memfd_offset: 0x10n }),
      ],
      ["EINVAL", "address space 1 (SMM) on a TD", (vm) => set(vm, { slot: 1 << 16 })],
      ["EINVAL", "slot id too large", (vm) =>
        set(vm, {
          slot: Number(tdxValue(spec, "KVM_SET_USER_MEMORY_REGION2", "KVM_USER_MEM_SLOTS")),
        })],
      [
        "EINVAL",
        "deleting a slot that does not exist",
        (vm) => set(vm, { slot: 5, memory_size: 0n }),
      ],
      [
        "EINVAL",
        "modifying a guest_memfd slot",
        (vm) => (set(vm), set(vm, { guest_phys_addr: 0x10_0000n })),
      ],
      ["EINVAL", "the fd is not a guest_memfd", (vm) => set(vm, { guest_memfd: vm.fd })],
      ["EINVAL", "a guest_memfd of another VM", (vm) => {
        const kvm = vm.host.file(3) as DevKvm;
        const other = kvm.createVm().vm!.createGuestMemfd(1n << 20n).gmem!;
        return set(vm, { guest_memfd: other.fd });
      }],
      ["EINVAL", "the guest_memfd is too small", (vm) => set(vm, { guest_memfd_offset: 0x1000n })],
      [
        "EINVAL",
        "the slot reaches into the shared alias",
        (vm) => set(vm, { guest_phys_addr: vm.td.sharedBit }),
      ],
      ["EEXIST", "overlapping another slot", (vm) => (set(vm), set(vm, { slot: 1 }))],
      ["EEXIST", "the guest_memfd range is already bound", (vm) => {
        const s = slot(vm);
        vm.call("KVM_SET_USER_MEMORY_REGION2", s);
        return vm.call("KVM_SET_USER_MEMORY_REGION2", {
          ...s,
          slot: 1,
          guest_phys_addr: 0x1000_0000n,
        });
      }],
      ["EBADF", "guest_memfd is not open", (vm) => set(vm, { guest_memfd: 99 })],
      [
        "EFAULT",
        "the structure is unreadable",
        (vm) => vm.call("KVM_SET_USER_MEMORY_REGION2", 0x100n),
      ],
      ["ENOMEM", "allocation fails", (vm) => {
        const s = slot(vm);
        vm.host.kmallocFailures = 1;
        return vm.call("KVM_SET_USER_MEMORY_REGION2", s);
      }],
    ]),
  );
});

Deno.test("KVM_SET_MEMORY_ATTRIBUTES: every errno the spec lists", () => {
  const set = (vm: KvmVm, over: DecodedStruct = {}) =>
    vm.call("KVM_SET_MEMORY_ATTRIBUTES", {
      address: 0n,
      size: 0x1000n,
      attributes: PRIVATE,
      flags: 0n,
      ...over,
    });
  runErrnoTable(
    spec,
    { kind: "ioctl", name: "KVM_SET_MEMORY_ATTRIBUTES" },
    rows(td, [
      ["EINVAL", "flags not 0", (vm) => set(vm, { flags: 1n })],
      ["EINVAL", "an attribute other than PRIVATE", (vm) => set(vm, { attributes: 1n })],
      ["EINVAL", "size 0", (vm) => set(vm, { size: 0n })],
      [
        "EINVAL",
        "the range wraps",
        (vm) => set(vm, { address: 0xFFFF_FFFF_FFFF_F000n, size: 0x2000n }),
      ],
      ["EINVAL", "address not page aligned", (vm) => set(vm, { address: 0x10n })],
      [
        "EFAULT",
        "the structure is unreadable",
        (vm) => vm.call("KVM_SET_MEMORY_ATTRIBUTES", 0x100n),
      ],
      ["ENOMEM", "no tracking memory", (vm) => ((vm.host.kmallocFailures = 1), set(vm))],
    ]),
  );
});

Deno.test("converting private pages to shared removes them from the TD", () => {
  const bed = kvmBed();
  const { vm, vcpus: [vcpu] } = buildTd(bed, { memory: { gpa: 0n, size: 1n << 20n } });
  const src = vm.host.user.place(new Uint8Array(8192));
  const region = vm.host.user.place(
    vm.host.codec.encode("kvm_tdx_init_mem_region", { source_addr: src, gpa: 0n, nr_pages: 2n }),
  );
  assert.equal(tdxCommand(vcpu, "KVM_TDX_INIT_MEM_REGION", region, 0).errno, 0);
  assert.equal(tdxCommand(vm, "KVM_TDX_FINALIZE_VM", 0n).errno, 0);
  bed.mark();
  // Setting the attribute again changes nothing and costs nothing.
  assert.equal(
    vm.call("KVM_SET_MEMORY_ATTRIBUTES", {
      address: 0n,
      size: 0x2000n,
      attributes: PRIVATE,
      flags: 0n,
    }).errno,
    0,
  );
  assert.deepEqual(bed.calls(), []);
  assert.equal(
    vm.call("KVM_SET_MEMORY_ATTRIBUTES", {
      address: 0x1000n,
      size: 0x1000n,
      attributes: 0n,
      flags: 0n,
    }).errno,
    0,
  );
  assert.deepEqual(bed.calls(), [
    "TDH.MEM.RANGE.BLOCK",
    "TDH.MEM.TRACK",
    "TDH.MEM.PAGE.REMOVE",
    "TDH.PHYMEM.PAGE.WBINVD",
  ]);
  assert.deepEqual([...vm.sept.leaves.keys()], [0n]);
});

Deno.test("KVM_PRE_FAULT_MEMORY: every errno the spec lists", () => {
  const finalized = () => {
    const bed = kvmBed();
    const { vm, vcpus: [vcpu] } = buildTd(bed, { memory: { gpa: 0n, size: 1n << 20n } });
    tdxCommand(vm, "KVM_TDX_FINALIZE_VM", 0n);
    return { vm, vcpu };
  };
  const pre = (t: ReturnType<typeof finalized>, gpa: bigint, size = 0x1000n, flags = 0n) =>
    t.vcpu.call(
      "KVM_PRE_FAULT_MEMORY",
      t.vm.host.codec.encode("kvm_pre_fault_memory", { gpa, size, flags }),
    );
  const row = (
    errno: string,
    why: string,
    go: (t: ReturnType<typeof finalized>) => Result,
  ): ErrnoRow => ({ errno, why, run: () => go(finalized()) });
  runErrnoTable(spec, { kind: "ioctl", name: "KVM_PRE_FAULT_MEMORY" }, [
    {
      errno: "EOPNOTSUPP",
      why: "before KVM_TDX_FINALIZE_VM",
      run: () => {
        const { vm, vcpus: [vcpu] } = buildTd(kvmBed(), { memory: { gpa: 0n, size: 1n << 20n } });
        return pre({ vm, vcpu }, 0n);
      },
    },
    row("EINVAL", "flags not 0", (t) => pre(t, 0n, 0x1000n, 1n)),
    row("EINVAL", "gpa not page aligned", (t) => pre(t, 0x10n)),
    row("EINVAL", "size 0", (t) => pre(t, 0n, 0n)),
    row("EINVAL", "the shared bit set", (t) => pre(t, t.vm.td.sharedBit)),
    row("ENOENT", "no memslot (emulated MMIO)", (t) => pre(t, 0x1000_0000n)),
    row("EINTR", "a signal is pending", (t) => ((t.vm.host.signals.pending = true), pre(t, 0n))),
    row("EIO", "the VM is dead", (t) => (t.vm.bug("test", 0n), pre(t, 0n))),
    row(
      "EFAULT",
      "the structure is unreadable",
      (t) => t.vcpu.call("KVM_PRE_FAULT_MEMORY", 0x100n),
    ),
    row("EFAULT", "a private GPA whose memslot has no guest_memfd", (t) => {
      t.vm.call("KVM_SET_USER_MEMORY_REGION2", {
        slot: 3,
        flags: 0,
        guest_phys_addr: 0x2000_0000n,
        memory_size: 0x1000n,
        userspace_addr: t.vm.host.user.mmap(0x1000)!,
        guest_memfd_offset: 0n,
        guest_memfd: 0,
      });
      t.vm.call("KVM_SET_MEMORY_ATTRIBUTES", {
        address: 0x2000_0000n,
        size: 0x1000n,
        attributes: PRIVATE,
        flags: 0n,
      });
      return pre(t, 0x2000_0000n);
    }),
  ]);
});

Deno.test("KVM_SET_CPUID2, KVM_SET_TSC_KHZ and the /dev/kvm ioctls: every errno the spec lists", () => {
  const vcpuOf = () => {
    const t = buildTd(kvmBed(), { initVcpu: false });
    return { vm: t.vm, vcpu: t.vcpus[0] };
  };
  runErrnoTable(spec, { kind: "ioctl", name: "KVM_SET_CPUID2" }, [
    {
      errno: "E2BIG",
      why: "257 entries",
      run: () => {
        const { vm, vcpu } = vcpuOf();
        return vcpu.call(
          "KVM_SET_CPUID2",
          cpuid2Bytes(vm, Array.from({ length: 257 }, () => x2apicLeaf(vm))),
        );
      },
    },
    {
      errno: "EINVAL",
      why: "changed after the vCPU ran",
      run: () => {
        const { vm, vcpu } = vcpuOf();
        vcpu.hasRun = true;
        return vcpu.call("KVM_SET_CPUID2", cpuid2Bytes(vm, []));
      },
    },
    {
      errno: "EFAULT",
      why: "entries unreadable",
      run: () => {
        const { vcpu } = vcpuOf();
        return vcpu.call("KVM_SET_CPUID2", new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0]));
      },
    },
    {
      errno: "ENOMEM",
      why: "allocation fails",
      run: () => {
        const { vm, vcpu } = vcpuOf();
        vm.host.kmallocFailures = 1;
        return vcpu.call("KVM_SET_CPUID2", cpuid2Bytes(vm, []));
      },
    },
  ]);
  runErrnoTable(spec, { kind: "ioctl", name: "KVM_SET_TSC_KHZ" }, [
    {
      errno: "EINVAL",
      why: "the VM has vCPUs",
      run: () => vcpuOf().vm.call("KVM_SET_TSC_KHZ", 1_000_000),
    },
    {
      errno: "EINVAL",
      why: "on a TD's vCPU fd",
      run: () => vcpuOf().vcpu.call("KVM_SET_TSC_KHZ", 1_000_000),
    },
  ]);
  const kvm = () => kvmBed({}, false).kvm;
  runErrnoTable(spec, { kind: "ioctl", name: "KVM_GET_SUPPORTED_CPUID" }, [
    {
      errno: "E2BIG",
      why: "nent 0",
      run: () => kvm().call("KVM_GET_SUPPORTED_CPUID", new Uint8Array(8)),
    },
    {
      errno: "E2BIG",
      why: "nent too small",
      run: () =>
        kvm().call(
          "KVM_GET_SUPPORTED_CPUID",
          new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, ...new Uint8Array(40)]),
        ),
    },
    {
      errno: "EFAULT",
      why: "the header is unreadable",
      run: () => kvm().call("KVM_GET_SUPPORTED_CPUID", 0x100n),
    },
    {
      errno: "ENOMEM",
      why: "allocation fails",
      run: () => {
        const k = kvm();
        k.host.kmallocFailures = 1;
        return k.call(
          "KVM_GET_SUPPORTED_CPUID",
          new Uint8Array([200, 0, 0, 0, 0, 0, 0, 0, ...new Uint8Array(40 * 200)]),
        );
      },
    },
  ]);
  runErrnoTable(spec, { kind: "ioctl", name: "KVM_CREATE_VM" }, [
    { errno: "EINVAL", why: "type 32", run: () => kvm().call("KVM_CREATE_VM", 32) },
    {
      errno: "EINVAL",
      why: "TDX disabled",
      run: () => kvmBed({ tdxEnabled: false }, false).kvm.createVm(),
    },
    {
      errno: "ENOMEM",
      why: "allocation fails",
      run: () => {
        const k = kvm();
        k.host.kmallocFailures = 1;
        return k.createVm("KVM_X86_DEFAULT_VM");
      },
    },
  ]);
  runErrnoTable(spec, { kind: "ioctl", name: "KVM_GET_API_VERSION" }, [
    { errno: "EINVAL", why: "argument not 0", run: () => kvm().call("KVM_GET_API_VERSION", 1) },
  ]);
  runErrnoTable(spec, { kind: "ioctl", name: "KVM_GET_VCPU_MMAP_SIZE" }, [
    { errno: "EINVAL", why: "argument not 0", run: () => kvm().call("KVM_GET_VCPU_MMAP_SIZE", 1) },
  ]);
  // KVM_GET_SUPPORTED_CPUID answers with the host's leaves.
  const k = kvm();
  const buf = new Uint8Array(8 + 40 * 200);
  buf[0] = 200;
  assert.equal(k.call("KVM_GET_SUPPORTED_CPUID", buf).errno, 0);
  assert.ok(new DataView(buf.buffer).getUint32(0, true) > 0);
});
