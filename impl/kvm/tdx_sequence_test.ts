// The SEAMCALLs each KVM_TDX_* command and the teardown issue, in Linux's order, as the
// TDX module sees them.
import { strict as assert } from "node:assert";
import { buildTd, capabilities, cpuid2Bytes, kvmBed } from "./testing/kvm_fixture.ts";
import { tdxCommand, tdxInitMemRegion } from "./tdx_commands.ts";
import { fieldOffset } from "./struct_layout.ts";

const rep = (name: string, n: number) => Array<string>(n).fill(name);

function region(vm: ReturnType<typeof buildTd>["vm"], gpa: bigint, pages: number, fill = 0x5A) {
  const host = vm.host;
  const src = host.user.place(new Uint8Array(pages * 4096).fill(fill));
  return host.user.place(
    host.codec.encode("kvm_tdx_init_mem_region", {
      source_addr: src,
      gpa,
      nr_pages: BigInt(pages),
    }),
  );
}

Deno.test("KVM_TDX_CAPABILITIES issues no SEAMCALL", () => {
  const bed = kvmBed();
  const vm = bed.kvm.createVm().vm!;
  bed.mark();
  const caps = capabilities(vm);
  assert.deepEqual(bed.calls(), []);
  const info = bed.kvm.host.sysinfo!;
  assert.equal((caps.cpuid as { nent: number }).nent, info.numCpuidConfig);
  // SetupEventNotifyInterrupt (GetTdVmCallInfo leaf 1, R11 bit 1) is left to userspace.
  assert.equal(caps.user_tdvmcallinfo_1_r11, 2n);
  assert.equal(caps.kernel_tdvmcallinfo_1_r11, 0n);
});

Deno.test("KVM_TDX_INIT_VM: CREATE, KEY.CONFIG per package, ADDCX per TDCS page, INIT, two MNG.RD", () => {
  const bed = kvmBed();
  bed.mark();
  const { vm } = buildTd(bed, { vcpus: 0 });
  const info = bed.kvm.host.sysinfo!;
  const packages = new Set(bed.platform.cpu.platform.lpPackages).size;
  assert.deepEqual(bed.calls(), [
    "TDH.MNG.CREATE",
    ...rep("TDH.MNG.KEY.CONFIG", packages),
    ...rep("TDH.MNG.ADDCX", info.tdcsBaseSize / 4096),
    "TDH.MNG.INIT",
    "TDH.MNG.RD",
    "TDH.MNG.RD",
  ]);
  // KEY.CONFIG runs on the first online CPU of each package.
  const keyLps = bed.kvm.host.seam.log.filter((r) => r.name === "TDH.MNG.KEY.CONFIG").map((r) =>
    r.lp
  );
  assert.deepEqual(keyLps, bed.kvm.host.packageLeaders().map((p) => p.lp));
  // The HKID comes from the private range, never the module's global KeyID.
  const hkid = vm.td.hkid!;
  assert.ok(bed.platform.cpu.isPrivateKeyId(hkid));
  assert.notEqual(hkid, bed.kvm.host.keyIds.globalKeyId);
  assert.equal(vm.td.state, "initialized");
  assert.equal(vm.td.sharedBit, 1n << 47n);
});

Deno.test("KVM_TDX_INIT_VCPU: VP.CREATE, ADDCX per TDCX page, VP.INIT version 1, three VP.WR", () => {
  const bed = kvmBed();
  const { vm } = buildTd(bed, { vcpus: 0 });
  const r = vm.createVcpu(3);
  const vcpu = r.vcpu!;
  vcpu.call(
    "KVM_SET_CPUID2",
    cpuid2Bytes(vm, [{ function: 1, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 1 << 21, edx: 0 }]),
  );
  bed.mark();
  const init = tdxCommand(vcpu, "KVM_TDX_INIT_VCPU", 0xFEED_0000n);
  assert.equal(init.errno, 0);
  const info = bed.kvm.host.sysinfo!;
  assert.deepEqual(bed.calls(), [
    "TDH.VP.CREATE",
    ...rep("TDH.VP.ADDCX", info.tdvpsBaseSize / 4096 - 1),
    "TDH.VP.INIT",
    "TDH.VP.WR",
    "TDH.VP.WR",
    "TDH.VP.WR",
  ]);
  // Version 1, with the vCPU id as x2APIC ID and the VMM's initial RCX.
  const vpInit = bed.kvm.host.seam.log.find((c) => c.name === "TDH.VP.INIT")!;
  assert.equal(vpInit.version, 1);
  assert.deepEqual([vpInit.inputs.x2apic_id, vpInit.inputs.initial_rcx], [3, 0xFEED_0000n]);
  assert.equal(vm.dead, false);
  assert.equal(vcpu.tdxState, "initialized");
});

Deno.test("KVM_TDX_INIT_MEM_REGION: S-EPT levels once, then one PAGE.ADD and 16 MR.EXTEND per measured page", () => {
  const bed = kvmBed();
  const { vm, vcpus: [vcpu] } = buildTd(bed, { memory: { gpa: 0n, size: 4n << 20n } });
  bed.mark();
  const data = region(vm, 0x20_0000n - 0x1000n, 3);
  const r = tdxCommand(vcpu, "KVM_TDX_INIT_MEM_REGION", data, 1);
  assert.equal(r.errno, 0);
  const extend = rep("TDH.MR.EXTEND", 16);
  // The third page crosses into the next 2 MiB region, which needs its own page table.
  assert.deepEqual(bed.calls(), [
    ...rep("TDH.MEM.SEPT.ADD", 3),
    "TDH.MEM.PAGE.ADD",
    ...extend,
    "TDH.MEM.SEPT.ADD",
    "TDH.MEM.PAGE.ADD",
    ...extend,
    "TDH.MEM.PAGE.ADD",
    ...extend,
  ]);
  // Each page is measured in 256-byte chunks, in address order.
  const chunks = bed.kvm.host.seam.log.filter((c) => c.name === "TDH.MR.EXTEND").map((c) =>
    BigInt(c.inputs.chunk_gpa)
  );
  assert.equal(chunks.length, 48);
  assert.equal(chunks[0], 0x1F_F000n);
  assert.ok(chunks.every((g, i) => i === 0 || g === chunks[i - 1] + 256n));
  // The structure comes back with the progress made.
  const back = vm.host.codec.decode(
    "kvm_tdx_init_mem_region",
    vm.host.user.read(data, 24) as Uint8Array,
  ).value;
  assert.deepEqual([back.gpa, back.nr_pages], [0x20_2000n, 0n]);
  // Without KVM_TDX_MEASURE_MEMORY_REGION: PAGE.ADD only.
  bed.mark();
  const plain = tdxInitMemRegion(vcpu, 0x30_0000n, new Uint8Array(0x1800).fill(1), false);
  assert.equal(plain.errno, 0);
  assert.deepEqual([plain.region.gpa, plain.region.nr_pages], [0x30_2000n, 0n]);
  assert.deepEqual(bed.calls(), ["TDH.MEM.PAGE.ADD", "TDH.MEM.PAGE.ADD"]);
});

Deno.test("KVM_TDX_FINALIZE_VM issues TDH.MR.FINALIZE and reports its status in hw_error", () => {
  const bed = kvmBed();
  const { vm } = buildTd(bed);
  bed.mark();
  const r = tdxCommand(vm, "KVM_TDX_FINALIZE_VM", 0n);
  assert.deepEqual([r.ret, r.cmd.hw_error], [0n, 0n]);
  assert.deepEqual(bed.calls(), ["TDH.MR.FINALIZE"]);
  assert.equal(vm.td.state, "runnable");
});

Deno.test("KVM_TDX_GET_CPUID reads CPUID_VALUES with TDH.MNG.RD only, two per entry", () => {
  const bed = kvmBed();
  const { vm, vcpus: [vcpu] } = buildTd(bed);
  const host = vm.host;
  const room = 128;
  const addr = host.user.mmap(8 + 40 * room)!;
  host.user.write(addr, new Uint8Array([room, 0, 0, 0]));
  bed.mark();
  // Building the TD issued TDH.MNG.RDs of its own: count only the command's.
  const logMark = host.seam.log.length;
  const r = tdxCommand(vcpu, "KVM_TDX_GET_CPUID", addr);
  assert.equal(r.errno, 0, r.errnoName);
  const calls = bed.calls();
  assert.ok(calls.length > 0 && calls.every((c) => c === "TDH.MNG.RD"));
  const nent = new DataView((host.user.read(addr, 4) as Uint8Array).buffer).getUint32(0, true);
  const out =
    host.codec.decode("kvm_cpuid2", host.user.read(addr, 8 + 40 * nent) as Uint8Array).value;
  const entries = out.entries as { function: number; eax: number; flags: number }[];
  assert.equal(entries[0].function, 0);
  // Leaf 0x80000008 carries the TD's GPAW in EAX[23:16].
  const sizes = entries.find((e) => e.function === 0x8000_0008)!;
  assert.equal((sizes.eax >> 16) & 0xFF, 48);
  // Reads that succeeded come in pairs; a failed first read of a pair is not followed up.
  const okReads = host.seam.log.slice(logMark)
    .filter((c) => c.name === "TDH.MNG.RD" && c.status === 0n).length;
  assert.equal(okReads, 2 * nent);
  assert.ok(fieldOffset(vm.spec, "kvm_cpuid2", "entries") === 8);
});

Deno.test("closing the VM tears the TD down in Linux's order", () => {
  const bed = kvmBed();
  const { vm, vcpus } = buildTd(bed, { vcpus: 2, memory: { gpa: 0n, size: 1n << 20n } });
  assert.equal(tdxCommand(vcpus[0], "KVM_TDX_INIT_MEM_REGION", region(vm, 0n, 2), 1).errno, 0);
  assert.equal(tdxCommand(vm, "KVM_TDX_FINALIZE_VM", 0n).errno, 0);
  const host = vm.host;
  const info = host.sysinfo!;
  const pagesBefore = host.pages.inUse;
  bed.mark();
  vm.close();
  const calls = bed.calls();
  const packages = host.packageLeaders().length;
  const perPage = [
    "TDH.MEM.RANGE.BLOCK",
    "TDH.MEM.TRACK",
    "TDH.MEM.PAGE.REMOVE",
    "TDH.PHYMEM.PAGE.WBINVD",
  ];
  const tdvps = info.tdvpsBaseSize / 4096;
  assert.deepEqual(calls, [
    // guest_memfd release: every private page leaves the TD while the HKID is assigned.
    ...perPage,
    ...perPage,
    // Both vCPUs were loaded (INIT_VCPU runs on their CPUs): flush each.
    "TDH.VP.FLUSH",
    "TDH.VP.FLUSH",
    "TDH.MNG.VPFLUSHDONE",
    ...rep("TDH.PHYMEM.CACHE.WB", packages),
    "TDH.MNG.KEY.FREEID",
    // vCPU pages, then the S-EPT pages, then the TDCS pages and the TDR.
    ...rep("TDH.PHYMEM.PAGE.RECLAIM", 2 * tdvps),
    ...rep("TDH.PHYMEM.PAGE.RECLAIM", 3),
    ...rep("TDH.PHYMEM.PAGE.RECLAIM", info.tdcsBaseSize / 4096),
    "TDH.PHYMEM.PAGE.RECLAIM",
    "TDH.PHYMEM.PAGE.WBINVD",
  ]);
  assert.equal(vm.dead, false);
  assert.equal(vm.td.hkid, undefined);
  assert.equal(vm.td.tdr, undefined);
  assert.ok(host.pages.inUse < pagesBefore);
  // The TDR is written back with the module's global KeyID.
  const wb = host.seam.log[host.seam.log.length - 1];
  assert.equal(host.cpu.memory.split(wb.regs.RCX).keyId, host.keyIds.globalKeyId);
});
