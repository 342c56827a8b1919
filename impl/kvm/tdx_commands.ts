// Typed KVM_MEMORY_ENCRYPT_OP calls for a VMM: each KVM_TDX_* command with its data
// placed in the process's memory, and what KVM wrote back decoded.
import type { DecodedStruct } from "../spec/codec.ts";
import { type IoctlResult, isFailure } from "./errno.ts";
import type { KvmFile } from "./kvm_file.ts";
import type { KvmHost } from "./kvm_host.ts";
import { fieldOffset, fixedSize, withCpuidSize } from "./struct_layout.ts";
import { type CpuidEntry, entryFromStruct, entryToStruct } from "./tdx_cpuid.ts";
import type { KvmVcpu } from "./vcpu.ts";
import type { KvmVm } from "./vm.ts";

export interface TdxCommandResult extends IoctlResult<KvmFile> {
  /** kvm_tdx_cmd as KVM left it (hw_error). */
  cmd: DecodedStruct;
}

type CommandFile = KvmFile & {
  host: KvmHost;
  call(name: string, arg?: Uint8Array): IoctlResult<KvmFile>;
};

/** KVM_MEMORY_ENCRYPT_OP with a kvm_tdx_cmd of command `name`. */
export function tdxCommand(
  file: CommandFile,
  name: string,
  data: bigint,
  flags = 0,
  hwError = 0n,
): TdxCommandResult {
  const codec = file.host.codec;
  const buf = codec.encode("kvm_tdx_cmd", {
    id: Number(file.spec.enumValue("kvm_tdx_cmd_id", name)),
    flags,
    data,
    hw_error: hwError,
  });
  const r = file.call("KVM_MEMORY_ENCRYPT_OP", buf);
  return { ...r, cmd: codec.decode("kvm_tdx_cmd", buf).value };
}

/** KVM_TDX_CAPABILITIES with room for `room` CPUID entries. */
export function tdxCapabilities(vm: KvmVm, room = 64): TdxCommandResult & { caps?: DecodedStruct } {
  const { host, spec } = vm;
  const size = withCpuidSize(spec, "kvm_tdx_capabilities", "cpuid", room);
  const addr = host.user.mmap(size)!;
  const nent = new Uint8Array(4);
  new DataView(nent.buffer).setUint32(0, room, true);
  const at = fieldOffset(spec, "kvm_tdx_capabilities", "cpuid") +
    fieldOffset(spec, "kvm_cpuid2", "nent");
  host.user.write(addr + BigInt(at), nent);
  const r = tdxCommand(vm, "KVM_TDX_CAPABILITIES", addr);
  const raw = host.user.read(addr, size);
  host.user.munmap(addr, size);
  if (r.errno || isFailure(raw)) return r;
  return { ...r, caps: host.codec.decode("kvm_tdx_capabilities", raw).value };
}

export interface InitVmParams {
  attributes?: bigint;
  xfam?: bigint;
  mrconfigid?: Uint8Array;
  mrowner?: Uint8Array;
  mrownerconfig?: Uint8Array;
  cpuid: CpuidEntry[];
}

export function initVmBytes(vm: KvmVm, p: InitVmParams): Uint8Array {
  return vm.host.codec.encode("kvm_tdx_init_vm", {
    attributes: p.attributes ?? 0n,
    xfam: p.xfam ?? 0n,
    mrconfigid: p.mrconfigid ?? new Uint8Array(48),
    mrowner: p.mrowner ?? new Uint8Array(48),
    mrownerconfig: p.mrownerconfig ?? new Uint8Array(48),
    cpuid: { nent: p.cpuid.length, entries: p.cpuid.map(entryToStruct) },
  });
}

export function tdxInitVm(vm: KvmVm, p: InitVmParams): TdxCommandResult {
  return tdxCommand(vm, "KVM_TDX_INIT_VM", vm.host.user.place(initVmBytes(vm, p)));
}

export function tdxInitVcpu(vcpu: KvmVcpu, initialRcx = 0n): TdxCommandResult {
  return tdxCommand(vcpu, "KVM_TDX_INIT_VCPU", initialRcx);
}

/** KVM_TDX_INIT_MEM_REGION of `source` (bytes, copied into the process first) at `gpa`. */
export function tdxInitMemRegion(
  vcpu: KvmVcpu,
  gpa: bigint,
  source: Uint8Array,
  measure: boolean,
): TdxCommandResult & { region: DecodedStruct } {
  const { host, spec } = vcpu.vm;
  const pages = BigInt(Math.ceil(source.length / 4096));
  const src = host.user.place(source, Number(pages) * 4096);
  const flag = spec.kvmTdxCommand("KVM_TDX_INIT_MEM_REGION").flags
    .find((f) => f.name === "KVM_TDX_MEASURE_MEMORY_REGION")!.value;
  const region = host.user.place(
    host.codec.encode("kvm_tdx_init_mem_region", { source_addr: src, gpa, nr_pages: pages }),
  );
  const r = tdxCommand(vcpu, "KVM_TDX_INIT_MEM_REGION", region, measure ? Number(BigInt(flag)) : 0);
  const back = host.user.read(region, fixedSize(spec, "kvm_tdx_init_mem_region")) as Uint8Array;
  return { ...r, region: host.codec.decode("kvm_tdx_init_mem_region", back).value };
}

export function tdxFinalizeVm(vm: KvmVm): TdxCommandResult {
  return tdxCommand(vm, "KVM_TDX_FINALIZE_VM", 0n);
}

/** KVM_TDX_GET_CPUID with room for `room` entries; `nent` is what KVM reported. */
export function tdxGetCpuid(
  vcpu: KvmVcpu,
  room = 256,
): TdxCommandResult & { nent: number; entries?: CpuidEntry[] } {
  const { host, spec } = vcpu.vm;
  const size = fieldOffset(spec, "kvm_cpuid2", "entries") +
    room * fixedSize(spec, "kvm_cpuid_entry2");
  const addr = host.user.mmap(size)!;
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, room, true);
  host.user.write(addr + BigInt(fieldOffset(spec, "kvm_cpuid2", "nent")), head);
  const r = tdxCommand(vcpu, "KVM_TDX_GET_CPUID", addr);
  const raw = host.user.read(addr, size) as Uint8Array;
  host.user.munmap(addr, size);
  const nent = new DataView(raw.buffer).getUint32(fieldOffset(spec, "kvm_cpuid2", "nent"), true);
  if (r.errno) return { ...r, nent };
  const v = host.codec.decode("kvm_cpuid2", raw).value;
  return { ...r, nent, entries: (v.entries as DecodedStruct[]).map(entryFromStruct) };
}

export function cpuid2Bytes(vm: KvmVm, entries: CpuidEntry[]): Uint8Array {
  return vm.host.codec.encode("kvm_cpuid2", {
    nent: entries.length,
    entries: entries.map(entryToStruct),
  });
}

export function setCpuid2(vcpu: KvmVcpu, entries: CpuidEntry[]): IoctlResult<KvmFile> {
  return vcpu.call("KVM_SET_CPUID2", cpuid2Bytes(vcpu.vm, entries));
}
