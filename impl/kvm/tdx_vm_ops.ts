// KVM_MEMORY_ENCRYPT_OP on a TD's VM fd (tdx_vm_ioctl): KVM_TDX_CAPABILITIES,
// KVM_TDX_INIT_VM and KVM_TDX_FINALIZE_VM, with the SEAMCALLs Linux issues for each.
import { encodeBits } from "../spec/bits.ts";
import type { DecodedStruct } from "../spec/codec.ts";
import { fail, type Failure, isFailure } from "./errno.ts";
import { tdxValue } from "./ioctl_number.ts";
import { fieldOffset, withCpuidSize } from "./struct_layout.ts";
import { buildTdParams } from "./td_params.ts";
import { configEntry, entryToStruct } from "./tdx_cpuid.ts";
import { supportedBits } from "./tdx_sysinfo.ts";
import { reclaimControlPages, releaseHkid } from "./teardown.ts";
import { type UserArg, UserPointer } from "./user_memory.ts";
import type { KvmVm } from "./vm.ts";

export interface TdxCmd {
  id: number;
  flags: number;
  data: bigint;
  hw_error: bigint;
}

export function cmdId(vm: KvmVm, name: string): number {
  return Number(vm.spec.enumValue("kvm_tdx_cmd_id", name));
}

/** tdx_get_cmd: copy the command in; userspace may not preset hw_error. */
export function getCmd(vm: KvmVm, ptr: UserPointer): TdxCmd | Failure {
  const raw = ptr.read(0, vm.spec.struct("kvm_tdx_cmd").size as number);
  if (isFailure(raw)) return raw;
  const v = vm.host.codec.decode("kvm_tdx_cmd", raw).value;
  const cmd = {
    id: v.id as number,
    flags: v.flags as number,
    data: v.data as bigint,
    hw_error: v.hw_error as bigint,
  };
  return cmd.hw_error !== 0n ? fail("EINVAL") : cmd;
}

export function putCmd(vm: KvmVm, ptr: UserPointer, cmd: TdxCmd): Failure | undefined {
  return ptr.write(0, vm.host.codec.encode("kvm_tdx_cmd", { ...cmd }));
}

/** tdx_acquire_vm_state_locks: fails while a vCPU is being created, or on a fatal signal. */
export function acquireVmStateLocks(vm: KvmVm): Failure | undefined {
  if (vm.vcpusInCreation > 0) return fail("EBUSY");
  if (vm.host.signals.fatal) return fail("EINTR");
  return undefined;
}

export function tdxVmIoctl(vm: KvmVm, arg: UserArg): bigint | Failure {
  const ptr = new UserPointer(vm.host.user, arg);
  const cmd = getCmd(vm, ptr);
  if (isFailure(cmd)) return cmd;
  if (cmd.id === cmdId(vm, "KVM_TDX_CAPABILITIES")) return getCapabilities(vm, cmd);
  const locked = acquireVmStateLocks(vm);
  if (locked) return locked;
  let r: bigint | Failure;
  if (cmd.id === cmdId(vm, "KVM_TDX_INIT_VM")) r = tdInit(vm, cmd);
  else if (cmd.id === cmdId(vm, "KVM_TDX_FINALIZE_VM")) r = tdFinalize(vm, cmd);
  else return fail("EINVAL");
  return putCmd(vm, ptr, cmd) ?? r;
}

/** The attribute and XFAM bits userspace may ask for (0 when KVM and the module disagree). */
export function supportedAttrsXfam(vm: KvmVm): { attrs: bigint; xfam: bigint } {
  const { host } = vm;
  const info = host.sysinfo!;
  return {
    attrs: supportedBits(host.supportedAttributes, info.attributesFixed0, info.attributesFixed1),
    xfam: supportedBits(host.supportedXfam, info.xfamFixed0, info.xfamFixed1),
  };
}

/** tdx_get_capabilities. */
function getCapabilities(vm: KvmVm, cmd: TdxCmd): bigint | Failure {
  const { spec, host } = vm;
  if (cmd.flags) return fail("EINVAL");
  const info = host.sysinfo!;
  const nentAt = fieldOffset(spec, "kvm_tdx_capabilities", "cpuid") +
    fieldOffset(spec, "kvm_cpuid2", "nent");
  const nentRaw = host.user.read(cmd.data + BigInt(nentAt), 4);
  if (isFailure(nentRaw)) return nentRaw;
  const nent = new DataView(nentRaw.buffer).getUint32(0, true);
  if (nent < info.numCpuidConfig) return fail("E2BIG");
  if (!host.kmalloc()) return fail("ENOMEM");
  const { attrs, xfam } = supportedAttrsXfam(vm);
  if (attrs === 0n || xfam === 0n) return fail("EIO");
  const r11 = spec.tdvmcall("GetTdVmCallInfo").outputs.find((o) => o.name === "info_r11")!;
  const entries = Array.from(
    { length: info.numCpuidConfig },
    (_, i) => entryToStruct(configEntry(spec, info, i)),
  );
  const caps: DecodedStruct = {
    supported_attrs: attrs,
    supported_xfam: xfam,
    kernel_tdvmcallinfo_1_r11: 0n,
    // Event notification only with userspace quoting (the 2026 quoting series).
    user_tdvmcallinfo_1_r11: host.quoteBuffer
      ? 0n
      : encodeBits(r11.fields!, { SETUP_EVENT_NOTIFY_INTERRUPT: 1n }),
    kernel_tdvmcallinfo_1_r12: 0n,
    user_tdvmcallinfo_1_r12: 0n,
    cpuid: { nent: info.numCpuidConfig, entries },
  };
  const bytes = host.codec.encode("kvm_tdx_capabilities", caps);
  return host.user.write(cmd.data, bytes) ?? 0n;
}

/** tdx_td_init. */
function tdInit(vm: KvmVm, cmd: TdxCmd): bigint | Failure {
  const { spec, host, td } = vm;
  if (td.state !== "uninitialized") return fail("EINVAL");
  if (cmd.flags) return fail("EINVAL");
  const nentAt = fieldOffset(spec, "kvm_tdx_init_vm", "cpuid") +
    fieldOffset(spec, "kvm_cpuid2", "nent");
  const nentRaw = host.user.read(cmd.data + BigInt(nentAt), 4);
  if (isFailure(nentRaw)) return nentRaw;
  const nent = new DataView(nentRaw.buffer).getUint32(0, true);
  if (BigInt(nent) > tdxValue(spec, "KVM_SET_CPUID2", "KVM_MAX_CPUID_ENTRIES")) {
    return fail("E2BIG");
  }
  if (!host.kmalloc()) return fail("ENOMEM");
  const raw = host.user.read(cmd.data, withCpuidSize(spec, "kvm_tdx_init_vm", "cpuid", nent));
  if (isFailure(raw)) return raw;
  const initVm = host.codec.decode("kvm_tdx_init_vm", raw).value;
  if ((initVm.reserved as Uint8Array).some((b) => b !== 0)) return fail("EINVAL");
  const cpuid = initVm.cpuid as DecodedStruct;
  if ((cpuid.padding as Uint8Array).some((b) => b !== 0) || cpuid.nent !== nent) {
    return fail("EINVAL");
  }
  if (!host.kmalloc()) return fail("ENOMEM");
  const params = buildTdParams(vm, initVm);
  if (isFailure(params)) return params;
  const r = createTd(vm, params.bytes, cmd);
  if (r) return r;
  // The TSC the module chose for the TD, which KVM keeps for its vCPUs.
  const rd = (name: string) => {
    const x = host.seam.call(host.lp, "TDH.MNG.RD", {
      tdr_pa: td.tdr!,
      field_id: BigInt(spec.metadataField("td", name).field_id),
    });
    return x.status === 0n ? x.out.value : 0n;
  };
  td.tscOffset = rd("TSC_OFFSET");
  td.tscMultiplier = rd("TSC_MULTIPLIER");
  td.attributes = params.attributes;
  td.xfam = params.xfam;
  td.gpaw = params.gpaw;
  td.eptLevels = params.gpaw === 52 ? 5 : 4;
  td.sharedBit = 1n << BigInt(params.gpaw - 1);
  td.state = "initialized";
  return 0n;
}

/** __tdx_td_init: HKID, TDR, TDCS; TDH.MNG.CREATE, KEY.CONFIG per package, ADDCX, INIT. */
function createTd(vm: KvmVm, tdParams: Uint8Array, cmd: TdxCmd): Failure | undefined {
  const { host, td } = vm;
  const seam = host.seam;
  const info = host.sysinfo!;
  cmd.hw_error = 0n;
  const hkid = host.keyIds.alloc();
  if (hkid === undefined) return fail("ENOSPC");
  if (host.tdxKeysCharged >= host.tdxKeyLimit) {
    host.keyIds.free(hkid);
    return fail("EBUSY");
  }
  host.tdxKeysCharged++;
  td.hkid = hkid;
  const freeHkid = () => {
    host.keyIds.free(hkid);
    host.tdxKeysCharged--;
    td.hkid = undefined;
  };
  td.tdcsNr = info.tdcsBaseSize / 4096;
  td.tdcxNr = info.tdvpsBaseSize / 4096 - 1;
  const pages: bigint[] = [];
  const freePages = () => pages.forEach((p) => host.freePage(p));
  for (let i = 0; i < 1 + td.tdcsNr; i++) {
    const p = host.allocPage();
    if (p === undefined) {
      freePages();
      freeHkid();
      return fail("ENOMEM");
    }
    pages.push(p);
  }
  const [tdr, ...tdcs] = pages;
  if (!host.everyPackageOnline()) {
    freePages();
    freeHkid();
    return fail("EIO");
  }
  const create = seam.call(host.lp, "TDH.MNG.CREATE", { tdr_pa: tdr, hkid });
  if (seam.exactly(create.status, "TDX_RND_NO_ENTROPY") || create.status !== 0n) {
    freePages();
    freeHkid();
    if (seam.exactly(create.status, "TDX_RND_NO_ENTROPY")) return fail("EAGAIN");
    return vm.bug(create.name, create.status);
  }
  td.tdr = tdr;
  vm.tdrCreated(tdr);
  const teardown = (from: number, failure: Failure) => {
    // Pages not yet added to the TD go straight back; the rest is reclaimed.
    for (let i = from; i < tdcs.length; i++) host.freePage(tdcs[i]);
    if (td.tdcs) td.tdcs = td.tdcs.map((p, i) => (i < from ? p : undefined));
    releaseHkid(vm);
    reclaimControlPages(vm);
    return failure;
  };
  for (const { lp } of host.packageLeaders()) {
    const r = seam.call(lp, "TDH.MNG.KEY.CONFIG", { tdr_pa: tdr });
    if (r.status !== 0n) return teardown(0, vm.bug(r.name, r.status));
  }
  td.tdcs = [...tdcs];
  for (let i = 0; i < tdcs.length; i++) {
    const r = seam.call(host.lp, "TDH.MNG.ADDCX", { tdcx_pa: tdcs[i], tdr_pa: tdr });
    if (seam.exactly(r.status, "TDX_RND_NO_ENTROPY")) return teardown(i, fail("EAGAIN"));
    if (r.status !== 0n) return teardown(i, vm.bug(r.name, r.status));
  }
  const paramsPa = host.allocPage();
  if (paramsPa === undefined) return teardown(tdcs.length, fail("ENOMEM"));
  host.cpu.memory.write(paramsPa, tdParams);
  const init = seam.call(host.lp, "TDH.MNG.INIT", { tdr_pa: tdr, td_params_pa: paramsPa });
  host.freePage(paramsPa);
  if (seam.is(init.status, "TDX_OPERAND_INVALID")) {
    // The user's parameters were refused: report the module's status, keep the VM alive.
    cmd.hw_error = init.status;
    return teardown(tdcs.length, fail("EINVAL"));
  }
  if (init.status !== 0n) return teardown(tdcs.length, vm.bug(init.name, init.status));
  return undefined;
}

/** tdx_td_finalize: TDH.MR.FINALIZE; hw_error carries its status. */
function tdFinalize(vm: KvmVm, cmd: TdxCmd): bigint | Failure {
  const { host, td } = vm;
  if (td.hkid === undefined || td.state === "runnable") return fail("EINVAL");
  const r = host.seam.call(host.lp, "TDH.MR.FINALIZE", { tdr_pa: td.tdr! });
  cmd.hw_error = r.status;
  if (host.seam.is(r.status, "TDX_OPERAND_BUSY")) return fail("EBUSY");
  if (r.status !== 0n) return vm.bug(r.name, r.status);
  td.state = "runnable";
  td.preFaultAllowed = true;
  return 0n;
}
