// The host kernel KVM runs in, as far as TDX needs it: the CPU it runs on, its page
// allocator, the VMM process (address space, fd table, signals), which CPUs are online,
// the TDX private KeyIDs and the TDX module's metadata read at kvm_intel load.
import type { Cpu, MemoryRange } from "../cpu/cpu.ts";
import type { Spec } from "../spec/mod.ts";
import { encodeBits } from "../spec/bits.ts";
import { StructCodec } from "../spec/codec.ts";
import { HostPages } from "./host_pages.ts";
import { KeyIdPool } from "./keyid_pool.ts";
import type { KvmFile } from "./kvm_file.ts";
import { Seamcaller } from "./seamcall.ts";
import { readSysInfo, type TdxSysInfo, tdxUnusableReason } from "./tdx_sysinfo.ts";
import { UserMemory } from "./user_memory.ts";
import { prepareQuoteBuffer, type TdxQuoteBuffer } from "./tdx_quote.ts";

export interface KvmOptions {
  /** Host RAM the kernel allocates pages from (must lie in the TDMRs). */
  hostMemory?: MemoryRange[];
  /** Most host pages in use at once; a smaller value makes allocations fail (ENOMEM). */
  maxHostPages?: number;
  /** The KeyID the TDX module was configured with as its global KeyID. */
  globalKeyId?: number;
  /** kvm_intel.tdx: whether KVM offers TD VMs at all. */
  tdxEnabled?: boolean;
  /** The host TSC frequency (kHz), the default guest TSC frequency. */
  tscKhz?: number;
  /** XCR0 | XSS bits KVM supports (its kvm_caps), as XFAM field names. */
  supportedXfam?: string[];
  /** Whether the CPU has 5-level EPT (needed for a 52-bit GPAW). */
  ept5Level?: boolean;
  /** The logical processor the VMM's VM-scope ioctls run on. */
  lp?: number;
  /**
   * Model bound: how often KVM retries a SEAMCALL that keeps returning TDX_OPERAND_BUSY
   * before the model treats it as the VMM's signal (EINTR). Linux retries until then.
   */
  busyRetryLimit?: number;
  /**
   * Whether GetQuote is answered in the kernel with TDH.QUOTE.GET when the host brought up
   * the module's Quoting extension (default true, as the 2026 Linux series does).
   */
  tdxQuoting?: boolean;
}

const DEFAULT_XFAM = [
  "X87",
  "SSE",
  "AVX",
  "AVX512_OPMASK",
  "AVX512_ZMM_HI256",
  "AVX512_HI16_ZMM",
  "PKRU",
  "CET_U",
  "CET_S",
  "AMX_TILECFG",
  "AMX_TILEDATA",
];

export class KvmHost {
  readonly spec: Spec;
  readonly codec: StructCodec;
  readonly seam: Seamcaller;
  readonly pages: HostPages;
  readonly user: UserMemory;
  readonly keyIds: KeyIdPool;
  readonly onlineLps: Set<number>;
  /** The VMM thread's pending signals: `pending` (any) and `fatal` (SIGKILL). */
  readonly signals = { pending: false, fatal: false };
  /** The misc cgroup's TDX KeyID limit for the VMM (KVM_TDX_INIT_VM fails EBUSY beyond). */
  tdxKeyLimit: number;
  tdxKeysCharged = 0;
  readonly tscKhz: number;
  /** KVM's XCR0 | XSS (kvm_caps); a test may change it after load. */
  supportedXfam: bigint;
  /** Model knob: the kernel heap (kzalloc/memdup_user) fails while this is above 0. */
  kmallocFailures = 0;
  readonly supportedAttributes: bigint;
  readonly ept5Level: boolean;
  readonly busyRetryLimit: number;
  readonly sysinfo?: TdxSysInfo;
  /** The host's quote buffer when GetQuote is answered in the kernel (tdx_quote.ts). */
  readonly quoteBuffer?: TdxQuoteBuffer;
  /** Why TDX is off, when it is. */
  readonly tdxDisabledReason?: string;
  lp: number;
  private readonly fds = new Map<number, KvmFile>();

  constructor(readonly cpu: Cpu, readonly options: KvmOptions = {}) {
    this.spec = cpu.spec;
    this.codec = new StructCodec(this.spec);
    this.seam = new Seamcaller(
      cpu,
      this.spec,
      Number(this.spec.enumValue("linux_tdx_limits", "RDRAND_RETRY_LOOPS")),
    );
    this.pages = new HostPages(options.hostMemory ?? defaultHostMemory(cpu), options.maxHostPages);
    this.user = new UserMemory(cpu, this.pages);
    this.keyIds = new KeyIdPool(cpu, options.globalKeyId);
    this.tdxKeyLimit = this.keyIds.guestKeyIds;
    this.onlineLps = new Set(cpu.lps.map((lp) => lp.id));
    this.lp = options.lp ?? 0;
    this.tscKhz = options.tscKhz ?? 2_100_000;
    this.ept5Level = options.ept5Level ?? cpu.platform.maxPa > 48;
    this.busyRetryLimit = options.busyRetryLimit ?? 64;
    const xfam = this.spec.bitfield("XFAM").fields;
    this.supportedXfam = encodeBits(
      xfam,
      Object.fromEntries((options.supportedXfam ?? DEFAULT_XFAM).map((n) => [n, 1n])),
    );
    this.supportedAttributes = encodeBits(this.spec.bitfield("TD_ATTRIBUTES").fields, {
      SEPT_VE_DISABLE: 1n,
    });
    if (options.tdxEnabled === false) {
      this.tdxDisabledReason = "kvm_intel.tdx=0";
      return;
    }
    this.sysinfo = readSysInfo(this.seam, this.lp);
    this.tdxDisabledReason = this.sysinfo
      ? tdxUnusableReason(
        this.seam,
        this.sysinfo,
        this.supportedAttributes,
        this.supportedXfam,
        cpu.lps.length,
      )
      : "the TDX module's metadata cannot be read (module not initialised)";
    const quote = encodeBits(this.spec.bitfield("TDX_FEATURES0").fields, { QUOTE: 1n });
    if (this.tdxEnabled && options.tdxQuoting !== false && (this.sysinfo!.tdxFeatures0 & quote)) {
      this.quoteBuffer = prepareQuoteBuffer(
        this.spec,
        this.seam,
        this.lp,
        this.pages,
        (pa) => cpu.memory.zeroPage(pa),
      );
    }
  }

  get tdxEnabled(): boolean {
    return this.tdxDisabledReason === undefined;
  }

  /** Package of each LP (topology_physical_package_id). */
  packageOf(lp: number): number {
    return this.cpu.platform.lpPackages[lp] ?? 0;
  }

  /** The first online LP of every package, in LP order (the CPUs per-package SEAMCALLs use). */
  packageLeaders(): { lp: number; pkg: number }[] {
    const seen = new Set<number>();
    const out: { lp: number; pkg: number }[] = [];
    for (const lp of [...this.onlineLps].sort((a, b) => a - b)) {
      const pkg = this.packageOf(lp);
      if (seen.has(pkg)) continue;
      seen.add(pkg);
      out.push({ lp, pkg });
    }
    return out;
  }

  /** Whether every package has an online CPU (TD creation programs a key on each). */
  everyPackageOnline(): boolean {
    const present = new Set(this.cpu.lps.map((lp) => this.packageOf(lp.id)));
    return this.packageLeaders().length === present.size;
  }

  /** A zeroed host page, or undefined when the allocator is exhausted. */
  allocPage(): bigint | undefined {
    const pa = this.pages.alloc();
    if (pa !== undefined) this.cpu.memory.zeroPage(pa);
    return pa;
  }

  /** A small kernel allocation (kzalloc, memdup_user): false when the model makes it fail. */
  kmalloc(): boolean {
    if (this.kmallocFailures <= 0) return true;
    this.kmallocFailures--;
    return false;
  }

  freePage(pa: bigint): void {
    this.pages.release(pa);
  }

  installFile(file: KvmFile): number {
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    this.fds.set(fd, file);
    file.fd = fd;
    return fd;
  }

  file(fd: number): KvmFile | undefined {
    return this.fds.get(fd);
  }

  closeFd(fd: number): void {
    this.fds.delete(fd);
  }
}

/** Without an explicit range, the host uses the upper half of the last CMR. */
function defaultHostMemory(cpu: Cpu): MemoryRange[] {
  const last = cpu.platform.cmrs[cpu.platform.cmrs.length - 1];
  const half = (last.size / 2n) & ~0xFFFn;
  return [{ base: last.base + half, size: last.size - half }];
}
