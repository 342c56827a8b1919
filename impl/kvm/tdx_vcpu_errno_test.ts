// Every errno of the vCPU-fd KVM_TDX commands, each provoked the way Linux reaches it.
import { strict as assert } from "node:assert";
import { lockKey } from "../module/locks.ts";
import { buildTd, cpuid2Bytes, type KvmBed, kvmBed, x2apicLeaf } from "./testing/kvm_fixture.ts";
import { type ErrnoRow, runErrnoTable } from "./testing/errno_table.ts";
import { tdxCommand } from "./tdx_commands.ts";
import type { KvmVcpu } from "./vcpu.ts";
import type { KvmVm } from "./vm.ts";

type Result = { errno: number; errnoName?: string };
const spec = kvmBed({}, false).platform.spec;

/** A TD with one vCPU created (and CPUID set) but not yet KVM_TDX_INIT_VCPU'd. */
function freshVcpu(): { bed: KvmBed; vm: KvmVm; vcpu: KvmVcpu } {
  const bed = kvmBed();
  const { vm, vcpus: [vcpu] } = buildTd(bed, { initVcpu: false });
  return { bed, vm, vcpu };
}

Deno.test("KVM_TDX_INIT_VCPU: every errno the spec lists", () => {
  const init = (vcpu: KvmVcpu, flags = 0, hw = 0n) =>
    tdxCommand(vcpu, "KVM_TDX_INIT_VCPU", 0n, flags, hw);
  const row = (
    errno: string,
    why: string,
    go: (c: ReturnType<typeof freshVcpu>) => Result,
  ): ErrnoRow => ({
    errno,
    why,
    run: () => go(freshVcpu()),
  });
  runErrnoTable(spec, { kind: "kvm_tdx_command", name: "KVM_TDX_INIT_VCPU" }, [
    row("EINVAL", "the TD is finalised", ({ vm, vcpu }) => {
      const other = vm.createVcpu(1).vcpu!;
      other.call("KVM_SET_CPUID2", cpuid2Bytes(vm, [x2apicLeaf(vm)]));
      assert.equal(init(other).errno, 0);
      assert.equal(tdxCommand(vm, "KVM_TDX_FINALIZE_VM", 0n).errno, 0);
      return init(vcpu);
    }),
    row("EINVAL", "flags not 0", ({ vcpu }) => init(vcpu, 1)),
    row("EINVAL", "hw_error preset", ({ vcpu }) => init(vcpu, 0, 1n)),
    row("EINVAL", "already initialised", ({ vcpu }) => (init(vcpu), init(vcpu))),
    row("EINVAL", "the vCPU's CPUID lacks x2APIC", ({ vm, vcpu }) => {
      vcpu.call("KVM_SET_CPUID2", cpuid2Bytes(vm, []));
      return init(vcpu);
    }),
    row(
      "EBUSY",
      "a vCPU is being created",
      ({ vm, vcpu }) => ((vm.vcpusInCreation = 1), init(vcpu)),
    ),
    row("EINTR", "fatal signal", ({ vm, vcpu }) => ((vm.host.signals.fatal = true), init(vcpu))),
    row(
      "EFAULT",
      "kvm_tdx_cmd unreadable",
      ({ vcpu }) => vcpu.call("KVM_MEMORY_ENCRYPT_OP", 0x18n),
    ),
    row(
      "ENOMEM",
      "no page for the TDVPR",
      ({ vm, vcpu }) => ((vm.host.pages.limit = vm.host.pages.inUse), init(vcpu)),
    ),
    row("EIO", "TDH.VP.CREATE finds the TDR busy (the VM is dead)", ({ bed, vm, vcpu }) => {
      bed.platform.module.state.locks.hold(lockKey.page(vm.td.tdr!), "exclusive");
      const r = init(vcpu);
      assert.equal(vm.dead, true);
      return r;
    }),
  ]);
});

const MEASURE = 1;

function memTd(size = 1n << 20n) {
  const bed = kvmBed();
  const td = buildTd(bed, { memory: { gpa: 0n, size } });
  return { bed, ...td, vcpu: td.vcpus[0] };
}

function regionAt(
  vm: KvmVm,
  fields: { source_addr?: bigint; gpa?: bigint; nr_pages?: bigint },
): bigint {
  const host = vm.host;
  const src = fields.source_addr ?? host.user.place(new Uint8Array(2 * 4096).fill(7));
  return host.user.place(host.codec.encode("kvm_tdx_init_mem_region", {
    source_addr: src,
    gpa: fields.gpa ?? 0n,
    nr_pages: fields.nr_pages ?? 1n,
  }));
}

Deno.test("KVM_TDX_INIT_MEM_REGION: every errno the spec lists", () => {
  const add = (vcpu: KvmVcpu, data: bigint, flags = MEASURE, hw = 0n) =>
    tdxCommand(vcpu, "KVM_TDX_INIT_MEM_REGION", data, flags, hw);
  const row = (
    errno: string,
    why: string,
    go: (t: ReturnType<typeof memTd>) => Result,
  ): ErrnoRow => ({
    errno,
    why,
    run: () => go(memTd()),
  });
  runErrnoTable(spec, { kind: "kvm_tdx_command", name: "KVM_TDX_INIT_MEM_REGION" }, [
    row("EINVAL", "the TD is finalised", ({ vm, vcpu }) => {
      tdxCommand(vm, "KVM_TDX_FINALIZE_VM", 0n);
      return add(vcpu, regionAt(vm, {}));
    }),
    row("EINVAL", "this vCPU was not initialised", ({ vm }) => {
      const v = vm.createVcpu(1).vcpu!;
      return add(v, regionAt(vm, {}));
    }),
    row("EINVAL", "a flag other than bit 0", ({ vm, vcpu }) => add(vcpu, regionAt(vm, {}), 2)),
    row("EINVAL", "hw_error preset", ({ vm, vcpu }) => add(vcpu, regionAt(vm, {}), 0, 1n)),
    row("EINVAL", "source not 4 KiB aligned", ({ vm, vcpu }) => {
      const src = vm.host.user.place(new Uint8Array(8192));
      return add(vcpu, regionAt(vm, { source_addr: src + 8n }));
    }),
    row(
      "EINVAL",
      "gpa not 4 KiB aligned",
      ({ vm, vcpu }) => add(vcpu, regionAt(vm, { gpa: 0x10n })),
    ),
    row("EINVAL", "nr_pages 0", ({ vm, vcpu }) => add(vcpu, regionAt(vm, { nr_pages: 0n }))),
    row(
      "EINVAL",
      "the range wraps",
      ({ vm, vcpu }) => add(vcpu, regionAt(vm, { gpa: 0xFFFF_FFFF_FFFF_F000n, nr_pages: 2n })),
    ),
    row(
      "EINVAL",
      "a shared GPA",
      ({ vm, vcpu }) => add(vcpu, regionAt(vm, { gpa: vm.td.sharedBit })),
    ),
    row(
      "EINVAL",
      "no guest_memfd memslot",
      ({ vm, vcpu }) => add(vcpu, regionAt(vm, { gpa: 0x1000_0000n })),
    ),
    row("EINVAL", "the page is not private", ({ vm, vcpu }) => {
      vm.call("KVM_SET_MEMORY_ATTRIBUTES", {
        address: 0n,
        size: 0x1000n,
        attributes: 0n,
        flags: 0n,
      });
      return add(vcpu, regionAt(vm, {}));
    }),
    row("EFAULT", "the region structure is unreadable", ({ vcpu }) => add(vcpu, 0x20n)),
    row(
      "EFAULT",
      "the source page is not mapped",
      ({ vm, vcpu }) => add(vcpu, regionAt(vm, { source_addr: 0x1000n })),
    ),
    row("EFAULT", "the memslot's guest_memfd was closed", ({ vm, vcpu, gmem }) => {
      gmem!.close();
      return add(vcpu, regionAt(vm, {}));
    }),
    row("EINTR", "a signal is pending", ({ vm, vcpu }) => {
      const data = regionAt(vm, { nr_pages: 2n });
      vm.host.signals.pending = true;
      return add(vcpu, data);
    }),
    row(
      "EINTR",
      "TDH.MEM.SEPT.ADD keeps finding the S-EPT busy (retried until the signal)",
      ({ bed, vm, vcpu }) => {
        bed.platform.module.state.locks.hold(lockKey.septTree(vm.td.tdr!), "exclusive");
        const r = add(vcpu, regionAt(vm, {}));
        assert.equal(vm.dead, false);
        return r;
      },
    ),
    row(
      "EBUSY",
      "a vCPU is being created",
      ({ vm, vcpu }) => ((vm.vcpusInCreation = 1), add(vcpu, regionAt(vm, {}))),
    ),
    row(
      "EPERM",
      "the GFN is write-tracked",
      ({ vm, vcpu }) => (vm.writeTracked.add(0n), add(vcpu, regionAt(vm, {}))),
    ),
    row("EIO", "the GPA is already mapped", ({ vm, vcpu }) => {
      assert.equal(add(vcpu, regionAt(vm, {})).errno, 0);
      return add(vcpu, regionAt(vm, {}));
    }),
    row("EIO", "TDH.MR.EXTEND fails (the VM is dead)", ({ bed, vm, vcpu }) => {
      const data = regionAt(vm, {});
      // Another operation takes the TDR right after the page is added: MR.EXTEND finds
      // it busy, which KVM does not expect.
      bed.platform.module.observers.push((c) => {
        if (c.kind === "seamcall" && c.leaf === spec.seamcall("TDH.MEM.PAGE.ADD").leaf) {
          bed.platform.module.state.locks.hold(lockKey.page(vm.td.tdr!), "exclusive");
        }
      });
      const r = add(vcpu, data);
      assert.equal(vm.dead, true);
      return r;
    }),
    row("ENOMEM", "no page for an S-EPT level", ({ vm, vcpu }) => {
      const data = regionAt(vm, {});
      vm.host.pages.limit = vm.host.pages.inUse;
      return add(vcpu, data);
    }),
  ]);
});

Deno.test("KVM_TDX_INIT_MEM_REGION reports the progress made when it stops", () => {
  const { vm, vcpu, bed } = memTd();
  const data = regionAt(vm, { gpa: 0x3000n, nr_pages: 3n });
  // The second page is already there: the command stops on it with EIO.
  const host = vm.host;
  assert.equal(
    tdxCommand(vcpu, "KVM_TDX_INIT_MEM_REGION", regionAt(vm, { gpa: 0x4000n }), MEASURE).errno,
    0,
  );
  bed.mark();
  const r = tdxCommand(vcpu, "KVM_TDX_INIT_MEM_REGION", data, MEASURE);
  assert.equal(r.errnoName, "EIO");
  const back =
    host.codec.decode("kvm_tdx_init_mem_region", host.user.read(data, 24) as Uint8Array).value;
  assert.deepEqual([back.gpa, back.nr_pages], [0x4000n, 2n]);
  assert.deepEqual(bed.calls().filter((c) => c === "TDH.MEM.PAGE.ADD").length, 1);
});

Deno.test("KVM_TDX_GET_CPUID: every errno the spec lists", () => {
  const buf = (vm: KvmVm, room: number) => {
    const addr = vm.host.user.mmap(8 + 40 * Math.max(room, 1))!;
    vm.host.user.write(addr, new Uint8Array([room, 0, 0, 0]));
    return addr;
  };
  const get = (vcpu: KvmVcpu, data: bigint, hw = 0n) =>
    tdxCommand(vcpu, "KVM_TDX_GET_CPUID", data, 0, hw);
  const row = (
    errno: string,
    why: string,
    go: (c: ReturnType<typeof freshVcpu>) => Result,
  ): ErrnoRow => ({
    errno,
    why,
    run: () => go(freshVcpu()),
  });
  runErrnoTable(spec, { kind: "kvm_tdx_command", name: "KVM_TDX_GET_CPUID" }, [
    row("EINVAL", "the TD is finalised", ({ vm, vcpu }) => {
      tdxCommand(vcpu, "KVM_TDX_INIT_VCPU", 0n);
      tdxCommand(vm, "KVM_TDX_FINALIZE_VM", 0n);
      return get(vcpu, buf(vm, 64));
    }),
    row("EINVAL", "hw_error preset", ({ vm, vcpu }) => get(vcpu, buf(vm, 64), 1n)),
    row("E2BIG", "room for one entry", ({ vm, vcpu }) => {
      const data = buf(vm, 1);
      const r = get(vcpu, data);
      const nent = new DataView((vm.host.user.read(data, 4) as Uint8Array).buffer).getUint32(
        0,
        true,
      );
      assert.ok(nent > 1, "nent says how many entries are needed");
      return r;
    }),
    row("EIO", "leaf 0 cannot be read (the TDR is busy)", ({ bed, vm, vcpu }) => {
      bed.platform.module.state.locks.hold(lockKey.page(vm.td.tdr!), "exclusive");
      return get(vcpu, buf(vm, 64));
    }),
    row(
      "EBUSY",
      "a vCPU is being created",
      ({ vm, vcpu }) => ((vm.vcpusInCreation = 1), get(vcpu, buf(vm, 64))),
    ),
    row(
      "EINTR",
      "fatal signal",
      ({ vm, vcpu }) => ((vm.host.signals.fatal = true), get(vcpu, buf(vm, 64))),
    ),
    row("EFAULT", "the header is unreadable", ({ vcpu }) => get(vcpu, 0x30n)),
    row(
      "ENOMEM",
      "no memory for the entries",
      ({ vm, vcpu }) => ((vm.host.kmallocFailures = 1), get(vcpu, buf(vm, 64))),
    ),
  ]);
});

Deno.test("KVM_MEMORY_ENCRYPT_OP on a vCPU fd refuses VM commands and unknown ids", () => {
  const { vm, vcpu } = freshVcpu();
  assert.equal(tdxCommand(vcpu, "KVM_TDX_FINALIZE_VM", 0n).errnoName, "EINVAL");
  assert.equal(tdxCommand(vcpu, "KVM_TDX_CMD_NR_MAX", 0n).errnoName, "EINVAL");
  void vm;
});
