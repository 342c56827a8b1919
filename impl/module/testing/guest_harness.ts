// Test support for TDCALL leaves: a TD with one vCPU running on LP 0, set up directly in
// the module state (no SEAMCALL bring-up), with private pages mapped in its Secure EPT
// through sept.ts. TDCALLs go through the CPU's TDCALL instruction by leaf name.
import { type GuestPort } from "../../cpu/guest_execution.ts";
import { tdcallByName } from "../../cpu/leaf_call.ts";
import type { Registers } from "../../cpu/registers.ts";
import { type Spec, theSpec } from "../../spec/mod.ts";
import type { MetadataItem } from "../../spec/types.ts";
import { Cpu } from "../../cpu/cpu.ts";
import { describeStatus } from "../completion.ts";
import { TdxModule } from "../module.ts";
import { LeafContext } from "../leaf_context.ts";
import { levelSize, setEntry } from "../sept.ts";
import type { TdState, VcpuState } from "../state.ts";

export interface TdcallResult {
  status: bigint;
  name: string | undefined;
  detail: bigint;
  operand: string | undefined;
  out: Record<string, bigint>;
  regs: Registers;
  /** RAX still holds the leaf: the TDCALL did not complete (#VE or TD exit). */
  completed: boolean;
}

export interface HarnessOptions {
  hkid?: number;
  attributes?: bigint;
  configFlags?: bigint;
  numL2Vms?: number;
  maxVcpus?: number;
  /** Another spec (e.g. `specWith`), for a module with facts tdx_1.5 does not have. */
  spec?: Spec;
}

/** The repository's spec with extra or replaced metadata items (same name and scope replace). */
export function specWith(metadata: MetadataItem[]): Spec {
  const base = theSpec();
  const key = (m: MetadataItem) => `${m.scope}:${m.name}`;
  const replaced = new Set(metadata.map(key));
  const kept = base.located.filter((l) => l.item.kind !== "metadata" || !replaced.has(key(l.item)));
  const added = metadata.map((item) => ({
    item,
    file: `metadata/${item.scope}/${item.name.toLowerCase()}.yaml`,
    position: () => ({ line: 1, col: 1 }),
  }));
  return new (base.constructor as new (l: typeof base.located) => Spec)([...kept, ...added]);
}

const TDR = 0x4000_0000n;
const TDVPR = 0x4000_1000n;

/** The CPU and module under test, with status naming as the SEAMCALL fixture has it. */
class Machine {
  readonly cpu: Cpu;
  readonly module: TdxModule;
  constructor(readonly spec: Spec) {
    this.cpu = new Cpu(spec);
    this.module = new TdxModule(spec, this.cpu);
    this.cpu.loadModule(this.module);
  }
  describe(status: bigint) {
    const { name, detail } = describeStatus(this.spec, status);
    const operand = this.spec.enum("OPERAND_ID").values.find((v) => BigInt(v.value) === detail)
      ?.name;
    return { name, detail, operand };
  }
}

export class GuestHarness {
  readonly p: Machine;
  readonly td: TdState;
  readonly vcpu: VcpuState;
  readonly lp = 0;
  private nextHpa = 0x5000_0000n;

  constructor(opts: HarnessOptions = {}) {
    this.p = new Machine(opts.spec ?? theSpec());
    const state = this.p.module.state;
    this.td = state.newTd(TDR, opts.hkid ?? this.p.cpu.platform.sharedKeyIds + 2);
    Object.assign(this.td, {
      lifecycle: "TD_KEYS_CONFIGURED",
      opState: "OP_STATE_RUNNABLE",
      attributes: opts.attributes ?? 0n,
      xfam: 0x3n,
      maxVcpus: opts.maxVcpus ?? 8,
      numVcpus: 1,
      numL2Vms: opts.numL2Vms ?? 0,
      configFlags: opts.configFlags ?? 0n,
      finalized: true,
      mrtd: new Uint8Array(48).fill(0x11),
      vcpus: [TDVPR],
    });
    // As TDH.MNG.CREATE leaves it: the SEAM database entry of the loaded module build.
    const seamdb = this.p.cpu.seamdb.getref();
    if (seamdb.result === "SEAMOPS_SUCCESS") this.td.seamdb = seamdb.ref;
    this.vcpu = {
      tdvpr: TDVPR,
      tdr: TDR,
      tdcx: [],
      state: "running",
      index: 0,
      launched: true,
      gprs: new Map(),
      fields: new Map(),
      cpuidVe: { supervisor: false, user: false },
      associatedLp: this.lp,
    };
    state.vcpus.set(TDVPR, this.vcpu);
    state.lpCurrentVcpu.set(this.lp, TDVPR);
  }

  get spec() {
    return this.p.spec;
  }
  get state() {
    return this.p.module.state;
  }

  /** The context of a host SEAMCALL `leaf` running on another LP (`lp`), for its locks. */
  hostContext(leaf: string, lp = 1): LeafContext {
    const cpu = this.p.cpu;
    return new LeafContext(
      this.spec,
      cpu,
      cpu.lps[lp],
      this.state,
      this.spec.seamcall(leaf),
      0,
      {} as never,
    );
  }

  /** A fresh host page (distinct per call). */
  hostPage(size = 4096n): bigint {
    const hpa = (this.nextHpa + size - 1n) / size * size;
    this.nextHpa = hpa + size;
    return hpa;
  }

  /**
   * Maps `gpa` as a leaf at `level` in `state` (MAPPED by default), with the Secure EPT
   * pages above it; returns the HPA (no KeyID).
   */
  map(gpa: bigint, opts: { state?: string; level?: number; hpa?: bigint } = {}): bigint {
    const level = opts.level ?? 0;
    const hpa = opts.hpa ?? this.hostPage(levelSize(level));
    for (let l = 3; l > level; l--) {
      setEntry(this.td, gpa, {
        state: "NL_MAPPED",
        hpa: this.hostPage(),
        level: l,
        leaf: false,
        attributes: 0n,
      });
    }
    setEntry(this.td, gpa, {
      state: opts.state ?? "MAPPED",
      hpa,
      level,
      leaf: true,
      attributes: 0n,
    });
    return hpa;
  }

  /** Makes the Secure EPT reach `level` for `gpa` (non-leaf entries above it only). */
  mapTables(gpa: bigint, level: number, vm = 0): void {
    for (let l = 3; l > level; l--) {
      setEntry(this.td, gpa, {
        state: vm === 0 ? "NL_MAPPED" : "L2_NL_MAPPED",
        hpa: this.hostPage(),
        level: l,
        leaf: false,
        attributes: 0n,
      }, vm);
    }
  }

  private physical(hpa: bigint): bigint {
    return this.p.cpu.memory.withKeyId(hpa, this.td.hkid);
  }

  writePrivate(hpa: bigint, bytes: Uint8Array): void {
    this.p.cpu.memory.write(this.physical(hpa), bytes);
  }

  readPrivate(hpa: bigint, length: number): Uint8Array {
    return this.p.cpu.memory.read(this.physical(hpa), length);
  }

  /** The shared bit of the TD's GPAs. */
  get sharedBit(): bigint {
    return 1n << 47n;
  }

  port(): GuestPort {
    const cpu = this.p.cpu;
    const lp = this.lp;
    return {
      lpId: lp,
      vcpuIndex: this.vcpu.index,
      tdcall: (regs) => cpu.tdcall(lp, regs),
      vmExit: () => "the harness runs TDCALLs outside a VM entry",
      exitRequested: false,
    };
  }

  /** TDCALL with a register file built by the caller (e.g. reserved RAX bits set). */
  tdcallRegs(regs: Registers): TdcallResult {
    const lp = this.p.cpu.lps[this.lp];
    lp.mode = "seam-non-root";
    try {
      const outcome = this.p.cpu.tdcall(this.lp, regs);
      if (outcome.kind !== "completed") throw new Error(`TDCALL: ${outcome.kind}`);
      return { status: regs.RAX, ...this.p.describe(regs.RAX), out: {}, regs, completed: true };
    } finally {
      lp.mode = "vmx-root";
    }
  }

  tdcall(
    name: string,
    inputs: Record<string, bigint | number> = {},
    opts: { version?: number } = {},
  ): TdcallResult {
    const lp = this.p.cpu.lps[this.lp];
    lp.mode = "seam-non-root";
    try {
      const r = tdcallByName(this.spec, this.port(), name, inputs, opts.version ?? 0);
      if (r.outcome.kind !== "completed") throw new Error(`TDCALL ${name}: ${r.outcome.kind}`);
      // A TDCALL that ended in a #VE or a TD exit left RAX holding the leaf: no status.
      const completed = this.p.module.last?.completion.name !== "TDCALL_NOT_COMPLETED";
      const d = completed
        ? this.p.describe(r.status)
        : { name: undefined, detail: 0n, operand: undefined };
      return {
        status: r.status,
        ...d,
        out: r.out,
        regs: r.regs,
        completed,
      };
    } finally {
      lp.mode = "vmx-root";
    }
  }
}
