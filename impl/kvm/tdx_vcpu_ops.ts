// KVM_MEMORY_ENCRYPT_OP on a TD's vCPU fd: KVM_TDX_INIT_VCPU and KVM_TDX_INIT_MEM_REGION
// (KVM's unlocked path, under the VM's state locks) and KVM_TDX_GET_CPUID (the regular
// vCPU path), with the SEAMCALLs Linux issues for each.
import { decodeBits, encodeBits } from "../spec/bits.ts";
import { parseHex } from "../spec/hex.ts";
import { fail, type Failure, isFailure } from "./errno.ts";
import { tdxValue } from "./ioctl_number.ts";
import { fieldOffset, fixedSize } from "./struct_layout.ts";
import { type CpuidEntry, entryToStruct, leafNumber, withGuestPaBits } from "./tdx_cpuid.ts";
import { acquireVmStateLocks, cmdId, getCmd, type TdxCmd } from "./tdx_vm_ops.ts";
import { type UserArg, UserPointer } from "./user_memory.ts";
import type { KvmVcpu } from "./vcpu.ts";

export function tdxVcpuIoctl(vcpu: KvmVcpu, arg: UserArg): bigint | Failure {
  const { vm } = vcpu;
  const ptr = new UserPointer(vm.host.user, arg);
  // tdx_vcpu_unlocked_ioctl
  const cmd = getCmd(vm, ptr);
  if (isFailure(cmd)) return cmd;
  const locked = acquireVmStateLocks(vm);
  if (locked) return locked;
  if (vm.td.hkid === undefined || vm.td.state === "runnable") return fail("EINVAL");
  vcpu.load();
  if (cmd.id === cmdId(vm, "KVM_TDX_INIT_MEM_REGION")) return initMemRegion(vcpu, cmd);
  if (cmd.id === cmdId(vm, "KVM_TDX_INIT_VCPU")) return initVcpu(vcpu, cmd);
  // -ENOIOCTLCMD: the regular vCPU path (tdx_vcpu_ioctl) takes the command; its own
  // state check cannot fail after the one above.
  const again = getCmd(vm, ptr);
  if (isFailure(again)) return again;
  if (again.id === cmdId(vm, "KVM_TDX_GET_CPUID")) return getCpuid(vcpu, again);
  return fail("EINVAL");
}

// --- KVM_TDX_INIT_VCPU ---------------------------------------------------------------------

function initVcpu(vcpu: KvmVcpu, cmd: TdxCmd): bigint | Failure {
  const { vm, spec } = vcpu;
  if (cmd.flags) return fail("EINVAL");
  if (vcpu.tdxState !== "uninitialized") return fail("EINVAL");
  // TDX needs x2APIC: KVM switches the local APIC to it, which the guest CPUID must allow.
  const leaf1 = vcpu.cpuid.find((e) => e.function === leafNumber(spec, "VERSION_INFO"));
  const ecx = decodeBits(spec.bitfield("CPUID_01_ECX").fields, BigInt(leaf1?.ecx ?? 0)).fields;
  if (!ecx.X2APIC) return fail("EINVAL");
  const r = createVcpu(vcpu, cmd.data);
  if (r) return r;
  // The posted-interrupt set-up of the TD VMCS; a failed write is only logged by Linux.
  const host = vm.host;
  const wr = (name: string, value: bigint, mask: bigint) => {
    const md = spec.metadataField("vcpu", name);
    const res = host.seam.call(vcpu.cpu, "TDH.VP.WR", {
      tdvpr_pa: vcpu.tdvpr!,
      field_id: parseHex(md.field_id),
      value,
      write_mask: mask,
    });
    if (res.status !== 0n) vm.warnings.push({ what: `TDH.VP.WR ${name}`, status: res.status });
  };
  const widthMask = (name: string) =>
    (1n << BigInt(8 * spec.metadataField("vcpu", name).element_size)) - 1n;
  vcpu.piDesc = host.allocPage();
  wr(
    "POSTED_INTR_NV",
    tdxValue(spec, "KVM_CREATE_VCPU", "POSTED_INTR_VECTOR"),
    widthMask("POSTED_INTR_NV"),
  );
  wr("POSTED_INTR_DESC_ADDR", vcpu.piDesc ?? 0n, widthMask("POSTED_INTR_DESC_ADDR"));
  const postedIntr = encodeBits(spec.bitfield("PIN_BASED_VM_EXEC_CONTROL").fields, {
    PROCESS_POSTED_INTERRUPTS: 1n,
  });
  wr("PIN_BASED_VM_EXEC_CONTROL", postedIntr, postedIntr);
  vcpu.tdxState = "initialized";
  return 0n;
}

/** tdx_td_vcpu_init: TDVPR and TDCX pages, TDH.VP.CREATE, ADDCX each, TDH.VP.INIT (v1). */
function createVcpu(vcpu: KvmVcpu, initialRcx: bigint): Failure | undefined {
  const { vm } = vcpu;
  const host = vm.host;
  const seam = host.seam;
  const pages: bigint[] = [];
  if (!host.kmalloc()) return fail("ENOMEM");
  for (let i = 0; i < 1 + vm.td.tdcxNr; i++) {
    const p = host.allocPage();
    if (p === undefined) {
      pages.forEach((x) => host.freePage(x));
      return fail("ENOMEM");
    }
    pages.push(p);
  }
  const [tdvpr, ...tdcx] = pages;
  const create = seam.call(vcpu.cpu, "TDH.VP.CREATE", { tdvpr_pa: tdvpr, tdr_pa: vm.td.tdr! });
  if (create.status !== 0n) {
    pages.forEach((x) => host.freePage(x));
    return vm.bug(create.name, create.status);
  }
  vcpu.tdvpr = tdvpr;
  vcpu.tdcx = [...tdcx];
  for (let i = 0; i < tdcx.length; i++) {
    const r = seam.call(vcpu.cpu, "TDH.VP.ADDCX", { tdcx_pa: tdcx[i], tdvpr_pa: tdvpr });
    if (r.status !== 0n) {
      // Pages already added are reclaimed when the vCPU is freed; the rest go back now.
      for (let j = i; j < tdcx.length; j++) {
        host.freePage(tdcx[j]);
        vcpu.tdcx[j] = undefined;
      }
      return vm.bug(r.name, r.status);
    }
  }
  // Version 1 passes the x2APIC ID (the vCPU id) in R8.
  const init = seam.call(
    vcpu.cpu,
    "TDH.VP.INIT",
    { tdvpr_pa: tdvpr, initial_rcx: initialRcx, x2apic_id: vcpu.id },
    1,
  );
  if (init.status !== 0n) return vm.bug(init.name, init.status);
  vcpu.mpState = "runnable";
  return undefined;
}

// --- KVM_TDX_INIT_MEM_REGION ---------------------------------------------------------------

function initMemRegion(vcpu: KvmVcpu, cmd: TdxCmd): bigint | Failure {
  const { vm, spec } = vcpu;
  const host = vm.host;
  if (vcpu.tdxState !== "initialized") return fail("EINVAL");
  if (vm.td.state === "runnable") return fail("EINVAL");
  const measure = Number(parseHex(
    spec.kvmTdxCommand("KVM_TDX_INIT_MEM_REGION").flags
      .find((f) => f.name === "KVM_TDX_MEASURE_MEMORY_REGION")!.value,
  ));
  if (cmd.flags & ~measure) return fail("EINVAL");
  const size = fixedSize(spec, "kvm_tdx_init_mem_region");
  const raw = host.user.read(cmd.data, size);
  if (isFailure(raw)) return raw;
  const region = host.codec.decode("kvm_tdx_init_mem_region", raw).value;
  let src = region.source_addr as bigint;
  let gpa = region.gpa as bigint;
  let nr = region.nr_pages as bigint;
  const end = gpa + (nr << 12n);
  if (
    (src & 0xFFFn) || (gpa & 0xFFFn) || nr === 0n || end <= gpa || end >= 1n << 64n ||
    !vm.isPrivateGpa(gpa) || !vm.isPrivateGpa(end - 1n)
  ) {
    return fail("EINVAL");
  }
  let ret: Failure | undefined;
  while (nr) {
    if (host.signals.pending) {
      ret = fail("EINTR");
      break;
    }
    ret = populatePage(vcpu, gpa, src, (cmd.flags & measure) !== 0);
    if (ret) break;
    src += 4096n;
    gpa += 4096n;
    nr--;
  }
  const back = host.codec.encode("kvm_tdx_init_mem_region", {
    source_addr: src,
    gpa,
    nr_pages: nr,
  });
  return host.user.write(cmd.data, back) ?? ret ?? 0n;
}

/** kvm_gmem_populate of one page with tdx_gmem_post_populate. */
function populatePage(
  vcpu: KvmVcpu,
  gpa: bigint,
  src: bigint,
  measure: boolean,
): Failure | undefined {
  const { vm, spec } = vcpu;
  const host = vm.host;
  const gfn = gpa >> 12n;
  const slot = vm.memslots.find(gfn);
  if (!slot || !slot.hasGmem) return fail("EINVAL");
  if (!slot.gmem) return fail("EFAULT");
  const srcPa = host.user.translate(src);
  if (srcPa === undefined) return fail("EFAULT");
  const pfn = slot.gmem.getPfn(slot.gmemPgoff + (gfn - slot.base));
  if (isFailure(pfn)) return pfn;
  const PRIVATE = tdxValue(spec, "KVM_SET_MEMORY_ATTRIBUTES", "KVM_MEMORY_ATTRIBUTE_PRIVATE");
  if (!vm.attributes.rangeHas(gfn, gfn + 1n, PRIVATE)) return fail("EINVAL");
  if (vm.writeTracked.has(gfn)) return fail("EPERM");
  const mapped = vm.sept.mapPrivate(vcpu.cpu, gpa, pfn, srcPa);
  if (isFailure(mapped)) return mapped;
  if (mapped !== "fixed") return fail("EIO");
  if (!measure) return undefined;
  const chunk = BigInt(
    spec.seamcall("TDH.MR.EXTEND").memory_operands!.find((m) => m.name === "chunk")!.size,
  );
  for (let off = 0n; off < 4096n; off += chunk) {
    const r = host.seam.call(vcpu.cpu, "TDH.MR.EXTEND", {
      chunk_gpa: gpa + off,
      tdr_pa: vm.td.tdr!,
    });
    if (r.status !== 0n) return vm.bug(r.name, r.status);
  }
  return undefined;
}

// --- KVM_TDX_GET_CPUID ---------------------------------------------------------------------

/** tdx_read_cpuid: two TDH.MNG.RD of CPUID_VALUES (EBX:EAX, then EDX:ECX). */
function readCpuid(
  vcpu: KvmVcpu,
  leaf: number,
  sub: number,
  subSet: boolean,
  out: CpuidEntry[],
): "ok" | "EINVAL" | "EIO" {
  const { vm, spec } = vcpu;
  if (
    sub > 0x7F || out.length >= Number(tdxValue(spec, "KVM_SET_CPUID2", "KVM_MAX_CPUID_ENTRIES"))
  ) {
    return "EINVAL";
  }
  const code = spec.bitfield("MD_CPUID_FIELD_CODE").fields;
  const leafBits = code.find((f) => f.name === "LEAF")!.bits;
  const subBits = code.find((f) => f.name === "SUBLEAF")!.bits;
  const leafLow = (1 << (leafBits[1] - leafBits[0] + 1)) - 1;
  const subLow = (1 << (subBits[1] - subBits[0] + 1)) - 1;
  // Leaf bits 30:7 and sub-leaf bits 31:7 cannot be expressed in the field code.
  if ((leaf & 0x7FFF_FFFF & ~leafLow) || (sub & ~subLow)) return "EINVAL";
  const fieldId = (element: number) =>
    parseHex(spec.metadataField("td", "CPUID_VALUES").field_id) |
    encodeBits(code, {
      ELEMENT: BigInt(element),
      SUBLEAF: BigInt(subSet ? sub : subLow),
      SUBLEAF_NA: subSet ? 0n : 1n,
      LEAF: BigInt(leaf & leafLow),
      LEAF_BIT31: BigInt(leaf >>> 31),
    });
  const rd = (element: number) =>
    vm.host.seam.call(vm.host.lp, "TDH.MNG.RD", { tdr_pa: vm.td.tdr!, field_id: fieldId(element) });
  const lo = rd(0);
  if (lo.status !== 0n) return "EIO";
  const hi = rd(1);
  if (hi.status !== 0n) return "EIO";
  const e: CpuidEntry = {
    function: leaf,
    index: sub,
    flags: subSet ? Number(tdxValue(spec, "KVM_SET_CPUID2", "KVM_CPUID_FLAG_SIGNIFCANT_INDEX")) : 0,
    eax: Number(lo.out.value & 0xFFFF_FFFFn),
    ebx: Number(lo.out.value >> 32n),
    ecx: Number(hi.out.value & 0xFFFF_FFFFn),
    edx: Number(hi.out.value >> 32n),
  };
  // Older modules do not report the GPAW here: KVM fills it in from the shared bit.
  if (leaf === leafNumber(spec, "ADDRESS_SIZES")) e.eax = withGuestPaBits(spec, e.eax, vm.td.gpaw);
  out.push(e);
  return "ok";
}

/** tdx_vcpu_get_cpuid_leaf: without a sub-leaf, else sub-leaves 0, 1, ... until one fails. */
function readLeaf(vcpu: KvmVcpu, leaf: number, out: CpuidEntry[]): boolean {
  const r = readCpuid(vcpu, leaf, 0, false, out);
  if (r !== "EIO") return r !== "ok";
  for (let sub = 0;; sub++) {
    if (readCpuid(vcpu, leaf, sub, true, out) !== "ok") return sub === 0;
  }
}

function getCpuid(vcpu: KvmVcpu, cmd: TdxCmd): bigint | Failure {
  const { vm, spec } = vcpu;
  const host = vm.host;
  if (!host.kmalloc()) return fail("ENOMEM");
  const head = host.user.read(cmd.data, fieldOffset(spec, "kvm_cpuid2", "entries"));
  if (isFailure(head)) return head;
  const room = new DataView(head.buffer).getUint32(fieldOffset(spec, "kvm_cpuid2", "nent"), true);
  const out: CpuidEntry[] = [];
  if (readLeaf(vcpu, leafNumber(spec, "MAX_BASIC"), out)) return fail("EIO");
  let level = out[0].eax;
  for (let leaf = 1; leaf <= level; leaf++) readLeaf(vcpu, leaf, out);
  const ext = leafNumber(spec, "MAX_EXTENDED");
  if (readLeaf(vcpu, ext, out)) return fail("EIO");
  level = out[out.length - 1].eax;
  for (let leaf = ext + 1; leaf <= level; leaf++) readLeaf(vcpu, leaf, out);
  const tooSmall = room < out.length;
  // The header goes back (nent: how many entries there are), even when they do not fit.
  new DataView(head.buffer).setUint32(fieldOffset(spec, "kvm_cpuid2", "nent"), out.length, true);
  const w = host.user.write(cmd.data, head);
  if (w) return w;
  if (tooSmall) return fail("E2BIG");
  const body = host.codec.encode("kvm_cpuid2", {
    nent: out.length,
    padding: head.slice(fieldOffset(spec, "kvm_cpuid2", "padding"), head.length),
    entries: out.map(entryToStruct),
  });
  return host.user.write(cmd.data, body) ?? 0n;
}
