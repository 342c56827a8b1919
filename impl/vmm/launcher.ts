// The launcher: builds and starts a TD from a TDVF image through KVM, in QEMU's order.
//   KVM_CREATE_VM(KVM_X86_TDX_VM), split IRQ chip and MapGPA exits, KVM_TDX_CAPABILITIES,
//   KVM_TDX_INIT_VM; per vCPU KVM_CREATE_VCPU and KVM_SET_CPUID2; guest_memfd-backed
//   memslots for RAM and for the firmware below 4 GiB, all set private; the TD HOB built
//   into the TD_HOB section; KVM_TDX_INIT_VCPU (RCX = the TD HOB's address) on every
//   vCPU; KVM_TDX_INIT_MEM_REGION per TDVF section in metadata order (measured where
//   the section has MR_EXTEND); KVM_TDX_FINALIZE_VM.
import type { Spec } from "../spec/mod.ts";
import { type DecodedStruct, StructCodec } from "../spec/codec.ts";
import { encodeBits } from "../spec/bits.ts";
import { type DevKvm, type KvmVcpu, type KvmVm, tdxCommand, tdxValue } from "../kvm/mod.ts";
import type { TdvfFirmware, TdvfSection } from "./tdvf.ts";
import { tdRamMap } from "./ram_layout.ts";
import { buildTdHob } from "./td_hob.ts";
import { FOUR_GIB, TdMemory } from "./td_memory.ts";
import { QuoteHost, type QuoteHostOptions } from "./quote_service.ts";
import { type VmmError, vmmFail, type VmmResult } from "./vmm_error.ts";

/** The software a TD runs, in the form KVM's model hook takes it. */
export type TdProgram = Parameters<KvmVm["attachGuestProgram"]>[0];

export interface LaunchOptions {
  /** Guest RAM in bytes (default 32 MiB: enough for TDVF's ranges and a shared buffer). */
  memoryBytes?: bigint;
  vcpus?: number;
  /** TD ATTRIBUTES bits by name (default SEPT_VE_DISABLE, as QEMU). */
  attributes?: string[];
  /** XFAM bits by name (default X87, SSE, AVX). */
  xfam?: string[];
  mrconfigid?: Uint8Array;
  mrowner?: Uint8Array;
  mrownerconfig?: Uint8Array;
  quote?: QuoteHostOptions;
  /**
   * The software the TD runs (the model's stand-in for executing the image), made once
   * the VM and its memory exist.
   */
  program?: (td: { vm: KvmVm; memory: TdMemory; hobAddress: bigint }) => TdProgram;
}

export interface LaunchedTd {
  spec: Spec;
  vm: KvmVm;
  vcpus: KvmVcpu[];
  memory: TdMemory;
  firmware: TdvfFirmware;
  /** GPA of the TD HOB (the initial RCX of every vCPU). */
  hobAddress: bigint;
  quotes: QuoteHost;
}

const DEFAULT_MEMORY = 32n << 20n;
/** QEMU's kernel_irqchip=split default: 24 IOAPIC routes. */
const SPLIT_IRQCHIP_ROUTES = 24n;

type Step = { errno: number; errnoName?: string };

export function launchTd(
  spec: Spec,
  kvm: DevKvm,
  fw: TdvfFirmware,
  options: LaunchOptions = {},
): VmmResult<LaunchedTd> {
  const memoryBytes = options.memoryBytes ?? DEFAULT_MEMORY;
  const fail = (step: string, r: Step, hw?: bigint) =>
    vmmFail(step, `${step} failed with ${r.errnoName ?? r.errno}`, r.errnoName, hw);

  // The RAM map and the HOB first: a firmware whose ranges do not fit is refused early.
  const hobSection = fw.sections.find((s) => s.typeName === "TD_HOB")!;
  const ram = tdRamMap(fw.sections, memoryBytes);
  if (!ram.ok) {
    return vmmFail(
      `TDVF_SECTION[${ram.section}]`,
      `${ram.message} (guest RAM is ${memoryBytes} bytes)`,
    );
  }
  const hob = buildTdHob(
    spec,
    hobSection.memoryAddress,
    Number(hobSection.memoryDataSize),
    ram.entries,
  );
  if (!hob.ok) return vmmFail("TD HOB", hob.message);

  const created = kvm.createVm("KVM_X86_TDX_VM");
  if (!created.vm) return fail("KVM_CREATE_VM", created);
  const vm = created.vm;
  let r: Step = vm.enableCap("KVM_CAP_SPLIT_IRQCHIP", [SPLIT_IRQCHIP_ROUTES]);
  if (r.errno) return fail("KVM_ENABLE_CAP", r);
  r = vm.enableCap("KVM_CAP_EXIT_HYPERCALL", [
    tdxValue(spec, "KVM_ENABLE_CAP", "BIT(KVM_HC_MAP_GPA_RANGE) in args[0]"),
  ]);
  if (r.errno) return fail("KVM_ENABLE_CAP", r);

  const caps = capabilities(spec, vm);
  if (!caps.ok) return caps;
  const initVm = initVmArgument(spec, caps.value, options);
  const initVmAddr = vm.host.user.place(initVm);
  const init = tdxCommand(vm, "KVM_TDX_INIT_VM", initVmAddr);
  if (init.errno) return fail("KVM_TDX_INIT_VM", init, init.cmd.hw_error as bigint);

  const vcpus: KvmVcpu[] = [];
  for (let i = 0; i < (options.vcpus ?? 1); i++) {
    const c = vm.createVcpu(i);
    if (!c.vcpu) return fail("KVM_CREATE_VCPU", c);
    const set = c.vcpu.call("KVM_SET_CPUID2", cpuid2(vm, [x2apicLeaf(spec)]));
    if (set.errno) return fail("KVM_SET_CPUID2", set);
    vcpus.push(c.vcpu);
  }

  const memory = new TdMemory(vm);
  const imageSize = BigInt(fw.image.length);
  const slots = [
    { gpa: 0n, size: memoryBytes },
    { gpa: FOUR_GIB - imageSize, size: imageSize },
  ];
  for (const [slot, s] of slots.entries()) {
    const m = mapRegion(spec, vm, memory, slot, s.gpa, s.size);
    if (m) return m;
  }
  const firmwareSlot = memory.regions[1];
  memory.write(firmwareSlot.gpa, fw.image);
  if (options.program) {
    vm.attachGuestProgram(options.program({ vm, memory, hobAddress: hobSection.memoryAddress }));
  }

  for (const v of vcpus) {
    const iv = tdxCommand(v, "KVM_TDX_INIT_VCPU", hobSection.memoryAddress);
    if (iv.errno) return fail("KVM_TDX_INIT_VCPU", iv);
  }

  for (const s of fw.sections) {
    const source = sectionSource(fw, s, s === hobSection ? hob.bytes : undefined);
    const e = initMemRegion(spec, vcpus[0], s, vm.host.user.place(source));
    if (e) return e;
  }
  const fin = tdxCommand(vm, "KVM_TDX_FINALIZE_VM", 0n);
  if (fin.errno) return fail("KVM_TDX_FINALIZE_VM", fin, fin.cmd.hw_error as bigint);

  return {
    ok: true,
    value: {
      spec,
      vm,
      vcpus,
      memory,
      firmware: fw,
      hobAddress: hobSection.memoryAddress,
      quotes: new QuoteHost(spec, memory, options.quote),
    },
  };
}

/**
 * The bytes a section's pages start with, as QEMU passes them: BFV and CFV straight
 * from the image at data_offset (memory_data_size bytes), the TD_HOB section with the
 * HOB list, TEMP_MEM zeros.
 */
function sectionSource(fw: TdvfFirmware, s: TdvfSection, hob?: Uint8Array): Uint8Array {
  const out = new Uint8Array(Number(s.memoryDataSize));
  if (hob) out.set(hob.subarray(0, out.length));
  else if (s.rawDataSize > 0) {
    out.set(fw.image.subarray(s.dataOffset, s.dataOffset + out.length));
  }
  return out;
}

/** KVM_TDX_INIT_MEM_REGION for one section, retried on EAGAIN/EINTR as QEMU does. */
function initMemRegion(
  spec: Spec,
  vcpu: KvmVcpu,
  s: TdvfSection,
  source: bigint,
): { ok: false; error: VmmError } | undefined {
  const user = vcpu.vm.host.user;
  const region = user.place(vcpu.vm.host.codec.encode("kvm_tdx_init_mem_region", {
    source_addr: source,
    gpa: s.memoryAddress,
    nr_pages: s.memoryDataSize / 4096n,
  }));
  const cmd = spec.kvmTdxCommand("KVM_TDX_INIT_MEM_REGION");
  const measure = cmd.flags.find((f) => f.name === "KVM_TDX_MEASURE_MEMORY_REGION")!;
  const flags = s.measured ? Number(BigInt(measure.value)) : 0;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const r = tdxCommand(vcpu, "KVM_TDX_INIT_MEM_REGION", region, flags);
    if (!r.errno) return undefined;
    if (r.errnoName !== "EAGAIN" && r.errnoName !== "EINTR") {
      return vmmFail(
        "KVM_TDX_INIT_MEM_REGION",
        `KVM_TDX_INIT_MEM_REGION of TDVF_SECTION[${s.index}] (${s.typeName} at 0x${
          s.memoryAddress.toString(16)
        }) failed with ${r.errnoName}`,
        r.errnoName,
      );
    }
  }
  return vmmFail("KVM_TDX_INIT_MEM_REGION", "KVM_TDX_INIT_MEM_REGION kept asking to retry");
}

function mapRegion(
  spec: Spec,
  vm: KvmVm,
  memory: TdMemory,
  slot: number,
  gpa: bigint,
  size: bigint,
): { ok: false; error: VmmError } | undefined {
  const g = vm.createGuestMemfd(size);
  if (!g.gmem) return vmmFail("KVM_CREATE_GUEST_MEMFD", `failed with ${g.errnoName}`, g.errnoName);
  const userAddr = vm.host.user.mmap(size);
  if (userAddr === undefined) return vmmFail("mmap", "the host is out of memory for guest RAM");
  const set = vm.call("KVM_SET_USER_MEMORY_REGION2", {
    slot,
    flags: Number(tdxValue(spec, "KVM_SET_USER_MEMORY_REGION2", "KVM_MEM_GUEST_MEMFD")),
    guest_phys_addr: gpa,
    memory_size: size,
    userspace_addr: userAddr,
    guest_memfd_offset: 0n,
    guest_memfd: g.gmem.fd,
  });
  if (set.errno) {
    return vmmFail("KVM_SET_USER_MEMORY_REGION2", `failed with ${set.errnoName}`, set.errnoName);
  }
  const attrs = vm.call("KVM_SET_MEMORY_ATTRIBUTES", {
    address: gpa,
    size,
    attributes: tdxValue(spec, "KVM_SET_MEMORY_ATTRIBUTES", "KVM_MEMORY_ATTRIBUTE_PRIVATE"),
    flags: 0n,
  });
  if (attrs.errno) {
    return vmmFail("KVM_SET_MEMORY_ATTRIBUTES", `failed with ${attrs.errnoName}`, attrs.errnoName);
  }
  memory.regions.push({ slot, gpa, size, userAddr });
  return undefined;
}

/** KVM_TDX_CAPABILITIES with room for every CPUID entry KVM may report. */
function capabilities(spec: Spec, vm: KvmVm): VmmResult<DecodedStruct> {
  const host = vm.host;
  const head = spec.struct("kvm_tdx_capabilities").fields.find((f) => f.name === "cpuid")!.offset!;
  const entries = Number(tdxValue(spec, "KVM_SET_CPUID2", "KVM_MAX_CPUID_ENTRIES"));
  const entrySize = spec.struct("kvm_cpuid_entry2").size as number;
  const nentAt = spec.struct("kvm_cpuid2").fields.find((f) => f.name === "nent")!.offset!;
  const cpuidHead = spec.struct("kvm_cpuid2").fields.find((f) => f.name === "entries")!.offset!;
  const size = head + cpuidHead + entries * entrySize;
  const addr = host.user.mmap(size)!;
  const nent = new Uint8Array(4);
  new DataView(nent.buffer).setUint32(0, entries, true);
  host.user.write(addr + BigInt(head + nentAt), nent);
  const r = tdxCommand(vm, "KVM_TDX_CAPABILITIES", addr);
  if (r.errno) return vmmFail("KVM_TDX_CAPABILITIES", `failed with ${r.errnoName}`, r.errnoName);
  const bytes = host.user.read(addr, size) as Uint8Array;
  return { ok: true, value: host.codec.decode("kvm_tdx_capabilities", bytes).value };
}

/** kvm_tdx_init_vm: attributes, XFAM, owner ids, and every configurable CPUID leaf. */
function initVmArgument(spec: Spec, caps: DecodedStruct, o: LaunchOptions): Uint8Array {
  const bits = (bitfield: string, names: string[]) =>
    encodeBits(spec.bitfield(bitfield).fields, Object.fromEntries(names.map((n) => [n, 1n])));
  const attributes = bits("TD_ATTRIBUTES", o.attributes ?? ["SEPT_VE_DISABLE"]) &
    (caps.supported_attrs as bigint);
  const xfam = bits("XFAM", o.xfam ?? ["X87", "SSE", "AVX"]) & (caps.supported_xfam as bigint);
  const significant = Number(tdxValue(spec, "KVM_SET_CPUID2", "KVM_CPUID_FLAG_SIGNIFCANT_INDEX"));
  const addressSizes = Number(spec.enumValue("CPUID_LEAF", "ADDRESS_SIZES"));
  const gpaw = spec.bitfield("CPUID_80000008_EAX").fields.find((f) => f.name === "GUEST_PA_BITS")!;
  const offered = (caps.cpuid as DecodedStruct).entries as DecodedStruct[];
  const entries = offered.map((e) => ({
    function: e.function,
    index: e.index,
    flags: significant,
    eax: e.function === addressSizes ? 48 << gpaw.bits[0] : 0,
    ebx: 0,
    ecx: 0,
    edx: 0,
  }));
  return new StructCodec(spec).encode("kvm_tdx_init_vm", {
    attributes,
    xfam,
    mrconfigid: o.mrconfigid ?? new Uint8Array(48),
    mrowner: o.mrowner ?? new Uint8Array(48),
    mrownerconfig: o.mrownerconfig ?? new Uint8Array(48),
    cpuid: { nent: entries.length, entries },
  });
}

/** CPUID leaf 1 with x2APIC: KVM_TDX_INIT_VCPU needs it in the vCPU's CPUID. */
function x2apicLeaf(spec: Spec): DecodedStruct {
  return {
    function: Number(spec.enumValue("CPUID_LEAF", "VERSION_INFO")),
    index: 0,
    flags: 0,
    eax: 0,
    ebx: 0,
    ecx: Number(encodeBits(spec.bitfield("CPUID_01_ECX").fields, { X2APIC: 1n })),
    edx: 0,
  };
}

function cpuid2(vm: KvmVm, entries: DecodedStruct[]): Uint8Array {
  return vm.host.codec.encode("kvm_cpuid2", { nent: entries.length, entries });
}
