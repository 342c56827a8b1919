// A VM file descriptor (struct kvm). For a TD (KVM_X86_TDX_VM) it also holds KVM's TDX
// state (struct kvm_tdx): the TD's control pages and HKID, its memslots, guest_memfds,
// memory attributes and the mirror of its Secure EPT.
import type { GuestProgram } from "../cpu/guest_execution.ts";
import type { DecodedStruct } from "../spec/codec.ts";
import { checkExtension } from "./capabilities.ts";
import { fail, type Failure, type IoctlResult, isFailure } from "./errno.ts";
import { GuestMemfd } from "./guest_memfd.ts";
import { ioctlNumber, tdxValue } from "./ioctl_number.ts";
import { intArg, type IoctlHandler, KvmFile } from "./kvm_file.ts";
import type { KvmHost } from "./kvm_host.ts";
import { MemoryAttributes } from "./memory_attributes.ts";
import { type Memslot, Memslots } from "./memslots.ts";
import { SeptMirror } from "./sept_mirror.ts";
import { newTdState, type TdState } from "./td_state.ts";
import { tdxVmIoctl } from "./tdx_vm_ops.ts";
import { destroyTd, tdTrack } from "./teardown.ts";
import { type UserArg, UserPointer } from "./user_memory.ts";
import { KvmVcpu } from "./vcpu.ts";

const PAGE = 4096n;
const aligned = (v: bigint) => (v & (PAGE - 1n)) === 0n;

export interface BugRecord {
  what: string;
  status: bigint;
}

export class KvmVm extends KvmFile {
  protected readonly unknownIoctlErrno = "ENOTTY";
  readonly isTd: boolean;
  readonly maxVcpus: number;
  readonly td: TdState = newTdState();
  readonly sept = new SeptMirror(this);
  readonly memslots = new Memslots();
  readonly attributes = new MemoryAttributes();
  readonly gmems = new Set<GuestMemfd>();
  readonly vcpus: KvmVcpu[] = [];
  /** KVM_BUG_ON: the VM is dead and every later ioctl fails with EIO. */
  dead = false;
  readonly bugs: BugRecord[] = [];
  /** SEAMCALL failures Linux only logs (pr_err), e.g. a refused TD VMCS write. */
  readonly warnings: BugRecord[] = [];
  splitIrqchip = false;
  hypercallExitMask = 0n;
  tscKhz: number;
  /** vCPUs counted by KVM_CREATE_VCPU but not yet online (another thread creating one). */
  vcpusInCreation = 0;
  /** Model hook: GFNs KVM write-tracks (KVM_TDX_INIT_MEM_REGION fails EPERM on them). */
  readonly writeTracked = new Set<bigint>();
  private guestProgram?: GuestProgram;

  constructor(readonly host: KvmHost, readonly type: bigint) {
    super(host.spec);
    this.isTd = type === host.spec.enumValue("kvm_vm_type", "KVM_X86_TDX_VM");
    const kvmMax = Number(tdxValue(host.spec, "KVM_CREATE_VCPU", "KVM_MAX_VCPUS"));
    this.maxVcpus = this.isTd ? Math.min(kvmMax, host.cpu.lps.length) : kvmMax;
    this.tscKhz = host.tscKhz;
  }

  protected override gate(): Failure | undefined {
    return this.dead ? fail("EIO") : undefined;
  }

  protected install(file: KvmFile): number {
    return this.host.installFile(file);
  }

  protected handlers(): [string, IoctlHandler][] {
    return [
      ["KVM_CHECK_EXTENSION", (a) => checkExtension(this.host, this, intArg(a))],
      ["KVM_CREATE_VCPU", (a) => this.createVcpuIoctl(intArg(a))],
      ["KVM_CREATE_GUEST_MEMFD", (a) => this.createGuestMemfdIoctl(a)],
      ["KVM_SET_USER_MEMORY_REGION2", (a) => this.setUserMemoryRegion2Ioctl(a)],
      ["KVM_SET_MEMORY_ATTRIBUTES", (a) => this.setMemoryAttributesIoctl(a)],
      ["KVM_ENABLE_CAP", (a) => this.enableCapIoctl(a)],
      ["KVM_MEMORY_ENCRYPT_OP", (a) => this.isTd ? tdxVmIoctl(this, a) : fail("ENOTTY")],
      ["KVM_SET_TSC_KHZ", (a) => this.setTscKhzIoctl(intArg(a))],
      ["KVM_GET_TSC_KHZ", () => BigInt(this.tscKhz)],
    ];
  }

  /** KVM_BUG_ON / TDX_BUG_ON: an unexpected SEAMCALL result kills the VM. */
  bug(what: string, status: bigint): Failure {
    this.dead = true;
    this.bugs.push({ what, status });
    return fail("EIO");
  }

  /** Whether a GPA is private: its shared bit (gfn_direct_bits) is clear. */
  isPrivateGpa(gpa: bigint): boolean {
    return (gpa & this.td.sharedBit) === 0n;
  }

  /** tdx_track: TDH.MEM.TRACK once the TD runs, so removed pages leave every TLB. */
  track(lp: number): void {
    tdTrack(this, lp);
  }

  /** tdx_reclaim_page: TDH.PHYMEM.PAGE.RECLAIM; false when the module refused (page leaked). */
  reclaimPage(lp: number, pa: bigint): boolean {
    const r = this.host.seam.call(lp, "TDH.PHYMEM.PAGE.RECLAIM", { page_pa: pa });
    if (r.status !== 0n) {
      this.bug(r.name, r.status);
      return false;
    }
    return true;
  }

  /** Unmaps GFNs [start, end): the private (S-EPT) mappings; shared ones need no SEAMCALL. */
  zapRange(start: bigint, end: bigint, which: "private" | "shared" | "all"): Failure | undefined {
    if (!this.isTd || which === "shared") return undefined;
    return this.sept.zapRange(this.host.lp, start, end);
  }

  // --- vCPUs --------------------------------------------------------------------------

  private createVcpuIoctl(id: bigint): KvmVcpu | Failure {
    const spec = this.spec;
    if (id >= tdxValue(spec, "KVM_CREATE_VCPU", "KVM_MAX_VCPU_IDS")) return fail("EINVAL");
    if (this.vcpus.length + this.vcpusInCreation >= this.maxVcpus) return fail("EINVAL");
    if (!this.host.kmalloc()) return fail("ENOMEM");
    // tdx_vcpu_create: the TD must exist, with the local APIC in the kernel only.
    if (this.isTd) {
      if (this.td.state === "uninitialized") return fail("EIO");
      if (!this.splitIrqchip) return fail("EINVAL");
    }
    if (this.vcpus.some((v) => v.id === Number(id))) return fail("EEXIST");
    const size = Number(tdxValue(spec, "KVM_GET_VCPU_MMAP_SIZE", "mmap size on x86"));
    const vcpu = new KvmVcpu(this, Number(id), this.vcpus.length, new Uint8Array(size));
    this.vcpus.push(vcpu);
    return vcpu;
  }

  // --- memory ---------------------------------------------------------------------------

  private createGuestMemfdIoctl(a: UserArg): GuestMemfd | Failure {
    const raw = new UserPointer(this.host.user, a).read(
      0,
      this.spec.ioctl("KVM_CREATE_GUEST_MEMFD").arg_size,
    );
    if (isFailure(raw)) return raw;
    const args = this.host.codec.decode("kvm_create_guest_memfd", raw).value;
    const size = args.size as bigint;
    const flags = args.flags as bigint;
    const supported = checkExtension(
      this.host,
      this,
      tdxValue(this.spec, "KVM_CHECK_EXTENSION", "KVM_CAP_GUEST_MEMFD_FLAGS"),
    );
    if (flags & ~supported) return fail("EINVAL");
    if (BigInt.asIntN(64, size) <= 0n || !aligned(size)) return fail("EINVAL");
    if (!this.host.kmalloc()) return fail("ENOMEM");
    const gmem = new GuestMemfd(this, size, flags);
    this.gmems.add(gmem);
    return gmem;
  }

  private setUserMemoryRegion2Ioctl(a: UserArg): bigint | Failure {
    const spec = this.spec;
    const raw = new UserPointer(this.host.user, a).read(
      0,
      spec.ioctl("KVM_SET_USER_MEMORY_REGION2").arg_size,
    );
    if (isFailure(raw)) return raw;
    const m = this.host.codec.decode("kvm_userspace_memory_region2", raw).value;
    const v = (n: string) => tdxValue(spec, "KVM_SET_USER_MEMORY_REGION2", n);
    const slotField = BigInt(m.slot as number);
    const id = Number(slotField & 0xFFFFn);
    const asId = Number(slotField >> 16n);
    if (BigInt(id) >= v("KVM_USER_MEM_SLOTS")) return fail("EINVAL");
    const flags = BigInt(m.flags as number);
    const GMEM = v("KVM_MEM_GUEST_MEMFD");
    const READONLY = v("KVM_MEM_READONLY");
    // check_memory_region_flags: no dirty logging of private memory, no read-only TD slot.
    let valid = v("KVM_MEM_LOG_DIRTY_PAGES") | GMEM;
    if (flags & GMEM) valid &= ~v("KVM_MEM_LOG_DIRTY_PAGES");
    if (!this.isTd && !(flags & GMEM)) valid |= READONLY;
    if (flags & ~valid) return fail("EINVAL");
    const size = m.memory_size as bigint;
    const gpa = m.guest_phys_addr as bigint;
    const uaddr = m.userspace_addr as bigint;
    const gmemOffset = m.guest_memfd_offset as bigint;
    if (!aligned(size) || !aligned(gpa) || !aligned(uaddr)) return fail("EINVAL");
    if ((flags & GMEM) && (!aligned(gmemOffset) || gmemOffset + size >= 1n << 64n)) {
      return fail("EINVAL");
    }
    // A VM with protected state (a TD) has no SMM address space.
    if (asId >= (this.isTd ? 1 : 2)) return fail("EINVAL");
    if (gpa + size >= 1n << 64n) return fail("EINVAL");
    const old = this.memslots.byId.get(id);
    if (size === 0n) {
      if (!old) return fail("EINVAL");
      return this.deleteSlot(old);
    }
    const base = gpa >> 12n;
    const npages = size >> 12n;
    if (old) {
      if (flags & GMEM) return fail("EINVAL");
      if (uaddr !== old.userspaceAddr || npages !== old.npages) return fail("EINVAL");
      if ((flags ^ BigInt(old.flags)) & (READONLY | GMEM)) return fail("EINVAL");
      if (base === old.base && Number(flags) === old.flags) return 0n;
      if (base !== old.base && this.memslots.overlaps(id, base, base + npages)) {
        return fail("EEXIST");
      }
      this.zapRange(old.base, old.base + old.npages, "all");
      old.base = base;
      old.flags = Number(flags);
      return 0n;
    }
    if (this.memslots.overlaps(id, base, base + npages)) return fail("EEXIST");
    if (!this.host.kmalloc()) return fail("ENOMEM");
    const slot: Memslot = {
      id,
      base,
      npages,
      userspaceAddr: uaddr,
      flags: Number(flags),
      hasGmem: (flags & GMEM) !== 0n,
      gmemPgoff: gmemOffset >> 12n,
    };
    if (flags & GMEM) {
      const file = this.host.file(m.guest_memfd as number);
      if (!file) return fail("EBADF");
      if (!(file instanceof GuestMemfd) || file.vm !== this) return fail("EINVAL");
      if (!aligned(gmemOffset) || gmemOffset + size > file.size) return fail("EINVAL");
      if (file.isBound(slot.gmemPgoff, slot.gmemPgoff + npages)) return fail("EEXIST");
      slot.gmem = file;
    }
    // kvm_arch_prepare_memory_region: the slot may not reach into the shared alias.
    if (((base + npages - 1n) << 12n) & this.td.sharedBit) return fail("EINVAL");
    slot.gmem?.bindings.push(slot);
    this.memslots.byId.set(id, slot);
    return 0n;
  }

  private deleteSlot(slot: Memslot): bigint | Failure {
    this.zapRange(slot.base, slot.base + slot.npages, "all");
    slot.gmem?.unbind(slot);
    this.memslots.byId.delete(slot.id);
    return 0n;
  }

  private setMemoryAttributesIoctl(a: UserArg): bigint | Failure {
    const raw = new UserPointer(this.host.user, a).read(
      0,
      this.spec.ioctl("KVM_SET_MEMORY_ATTRIBUTES").arg_size,
    );
    if (isFailure(raw)) return raw;
    const m = this.host.codec.decode("kvm_memory_attributes", raw).value;
    const address = m.address as bigint;
    const size = m.size as bigint;
    const attrs = m.attributes as bigint;
    const PRIVATE = tdxValue(
      this.spec,
      "KVM_SET_MEMORY_ATTRIBUTES",
      "KVM_MEMORY_ATTRIBUTE_PRIVATE",
    );
    const supported = this.isTd ? PRIVATE : 0n;
    if ((m.flags as bigint) !== 0n) return fail("EINVAL");
    if (attrs & ~supported) return fail("EINVAL");
    if (size === 0n || address + size >= 1n << 64n) return fail("EINVAL");
    if (!aligned(address) || !aligned(size)) return fail("EINVAL");
    const start = address >> 12n;
    const end = (address + size) >> 12n;
    if (this.attributes.rangeHas(start, end, attrs)) return 0n;
    if (!this.host.kmalloc()) return fail("ENOMEM");
    // Converting to shared removes the TD's private pages in the range (and the reverse
    // drops shared mappings, which costs no SEAMCALL).
    this.zapRange(start, end, attrs & PRIVATE ? "shared" : "private");
    this.attributes.set(start, end, attrs);
    return 0n;
  }

  private enableCapIoctl(a: UserArg): bigint | Failure {
    const raw = new UserPointer(this.host.user, a).read(
      0,
      this.spec.ioctl("KVM_ENABLE_CAP").arg_size,
    );
    if (isFailure(raw)) return raw;
    const c = this.host.codec.decode("kvm_enable_cap", raw).value;
    const args = c.args as bigint[];
    const cap = BigInt(c.cap as number);
    const v = (n: string) => tdxValue(this.spec, "KVM_ENABLE_CAP", n);
    if ((c.flags as number) !== 0) return fail("EINVAL");
    if (cap === v("KVM_CAP_SPLIT_IRQCHIP")) {
      if (args[0] > v("KVM_MAX_IRQ_ROUTES")) return fail("EINVAL");
      if (this.splitIrqchip || this.vcpus.length || this.vcpusInCreation) return fail("EEXIST");
      this.splitIrqchip = true;
      return 0n;
    }
    if (cap === v("KVM_CAP_EXIT_HYPERCALL")) {
      if (args[0] & ~v("BIT(KVM_HC_MAP_GPA_RANGE) in args[0]")) return fail("EINVAL");
      this.hypercallExitMask = args[0];
      return 0n;
    }
    return fail("EINVAL");
  }

  private setTscKhzIoctl(arg: bigint): bigint | Failure {
    let khz = Number(arg & 0xFFFF_FFFFn);
    if (khz === 0) khz = this.host.tscKhz;
    if (this.vcpus.length || this.vcpusInCreation) return fail("EINVAL");
    this.tscKhz = khz;
    return 0n;
  }

  // --- model hooks and convenience --------------------------------------------------------

  /**
   * Model hook (not a Linux interface): the software the TD runs. Real TDs run the image
   * KVM_TDX_INIT_MEM_REGION loaded; the model cannot execute x86, so the VMM attaches a
   * guest program that stands for it. Takes effect once the TD has a TDR.
   */
  attachGuestProgram(program: GuestProgram): void {
    this.guestProgram = program;
    if (this.td.tdr !== undefined) this.host.cpu.attachGuestProgram(this.td.tdr, program);
  }

  /** Called when the TDR exists, to hand a waiting guest program to the CPU. */
  tdrCreated(tdr: bigint): void {
    if (this.guestProgram) this.host.cpu.attachGuestProgram(tdr, this.guestProgram);
  }

  /** ioctl by spec name with an argument (a struct value is encoded with the codec). */
  call(name: string, arg?: UserArg | DecodedStruct): IoctlResult<KvmFile> {
    return this.ioctl(ioctlNumber(this.spec, name), encodeArg(this, name, arg));
  }

  createVcpu(id: number): IoctlResult<KvmFile> & { vcpu?: KvmVcpu } {
    const r = this.call("KVM_CREATE_VCPU", id);
    return { ...r, vcpu: r.file as KvmVcpu | undefined };
  }

  createGuestMemfd(size: bigint, flags = 0n): IoctlResult<KvmFile> & { gmem?: GuestMemfd } {
    const r = this.call("KVM_CREATE_GUEST_MEMFD", { size, flags });
    return { ...r, gmem: r.file as GuestMemfd | undefined };
  }

  checkExtension(cap: string): bigint {
    return this.call("KVM_CHECK_EXTENSION", tdxValue(this.spec, "KVM_CHECK_EXTENSION", cap)).ret;
  }

  enableCap(cap: string, args: bigint[] = [], flags = 0): IoctlResult<KvmFile> {
    const full = [0n, 0n, 0n, 0n].map((z, i) => args[i] ?? z);
    return this.call("KVM_ENABLE_CAP", {
      cap: Number(tdxValue(this.spec, "KVM_CHECK_EXTENSION", cap)),
      flags,
      args: full,
    });
  }

  /** Closes the VM and every file it owns, tearing the TD down as Linux does. */
  close(): void {
    if (this.closed) return;
    for (const g of [...this.gmems]) g.close();
    if (this.isTd) destroyTd(this);
    for (const v of this.vcpus) {
      v.closed = true;
      this.host.closeFd(v.fd);
    }
    this.closed = true;
    this.host.closeFd(this.fd);
  }
}

/** Encodes a struct argument by the ioctl's spec struct; other arguments pass through. */
export function encodeArg(
  file: KvmFile & { host: KvmHost },
  name: string,
  arg?: UserArg | DecodedStruct,
): UserArg {
  if (arg === undefined || typeof arg !== "object" || arg instanceof Uint8Array) {
    return arg as UserArg;
  }
  const it = file.spec.ioctl(name);
  if (it.argument.type !== "struct" || !it.argument.struct) {
    throw new Error(`${name} takes no struct argument`);
  }
  return file.host.codec.encode(it.argument.struct, arg as DecodedStruct);
}
