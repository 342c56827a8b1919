// Table-driven status tests for the TD and vCPU leaves. Each row builds a world (a
// platform, usually ready, with a TD and vCPUs at some stage, built through SEAMCALLs),
// prepares the condition, calls the leaf and checks the status name and its operand or
// detail. A coverage test checks that the rows reach every (status, operand) pair the
// leaf's spec file lists.
import { strict as assert } from "node:assert";
import type { GuestProgram } from "../../cpu/guest_execution.ts";
import { type CallResult, Platform } from "./fixture.ts";
import { lockKey, type LockMode } from "../locks.ts";
import type { TdState, VcpuState } from "../state.ts";
import {
  type CreatedTd,
  createTd,
  type CreateTdOptions,
  createVcpu,
  type CreateVcpuOptions,
  finalizeTd,
} from "./td_fixture.ts";

export type Inputs = Record<string, bigint | number>;

export interface WorldOptions {
  /** Bring the platform up (default true). */
  ready?: boolean;
  /** Changes to the platform before it is brought up (MSRs TDH.SYS.INIT samples...). */
  beforeReady?: (p: Platform) => void;
  /** The TD to build (default: initialised); false for none. */
  td?: CreateTdOptions | false;
  /** vCPUs to create after TDH.MNG.INIT (default none). */
  vcpus?: CreateVcpuOptions[];
  /** TDH.MR.FINALIZE after the vCPUs. */
  finalize?: boolean;
  /** The TD's guest software. */
  program?: (p: Platform) => GuestProgram;
}

/** What a row works on. */
export class TdWorld {
  readonly p: Platform;
  readonly td: CreatedTd;
  readonly vcpus: bigint[] = [];

  constructor(o: WorldOptions = {}) {
    this.p = new Platform();
    o.beforeReady?.(this.p);
    if (o.ready !== false) this.p.readyPlatform();
    this.td = o.td === false || o.ready === false
      ? { tdr: this.p.allocPage(), hkid: 0, tdcx: [] }
      : createTd(this.p, o.td ?? {});
    if (o.program) this.p.cpu.attachGuestProgram(this.td.tdr, o.program(this.p));
    for (const v of o.vcpus ?? []) this.vcpus.push(createVcpu(this.p, this.td, v));
    if (o.finalize) finalizeTd(this.p, this.td);
  }

  get spec() {
    return this.p.spec;
  }
  get state() {
    return this.p.module.state;
  }
  get tdState(): TdState {
    return this.state.tds.get(this.td.tdr)!;
  }
  get vcpu(): bigint {
    return this.vcpus[0];
  }
  vcpuState(tdvpr = this.vcpu): VcpuState {
    return this.state.vcpus.get(tdvpr)!;
  }
  page(): bigint {
    return this.p.allocPage();
  }
  /** An operation in flight on another LP holds `resource`. */
  hold(resource: string, mode: LockMode = "exclusive"): () => void {
    return this.state.locks.hold(resource, mode);
  }
  /** The page address with the lowest HKID bit set (an HPA operand must have none). */
  withHkidBit(pa: bigint): bigint {
    return pa | (1n << BigInt(this.p.cpu.memory.keyIdShift));
  }
  /** An address below MAX_PA that no TDMR covers. */
  outsideTdmrs(): bigint {
    let pa = 1n << BigInt(this.p.cpu.memory.keyIdShift - 1);
    while (this.state.platform.tdmrs.some((t) => pa >= t.base && pa < t.base + t.size)) {
      pa >>= 1n;
    }
    return pa;
  }
  call(leaf: string, c: LeafCall): CallResult {
    return this.p.seamcall(leaf, c.inputs, { version: c.version, lp: c.lp });
  }
  ok(leaf: string, inputs: Inputs, opts: { version?: number; lp?: number } = {}): CallResult {
    const r = this.call(leaf, { inputs, ...opts });
    if (r.name !== "TDX_SUCCESS") {
      throw new Error(`${leaf} failed: ${r.name} ${r.operand ?? ""} 0x${r.detail.toString(16)}`);
    }
    return r;
  }
  /** TDH.VP.ENTER of a vCPU on an LP. */
  enter(tdvpr = this.vcpu, lp = 0, extra: Inputs = {}): CallResult {
    return this.call("TDH.VP.ENTER", { inputs: { vcpu_handle_and_flags: tdvpr, ...extra }, lp });
  }
}

export interface LeafCall {
  inputs: Inputs;
  version?: number;
  lp?: number;
}

export interface TdStatusRow {
  status: string;
  /** OPERAND_ID the detail names, when the status names one. */
  operand?: string;
  /** Raw detail (an MSR index, an exit reason, a VMCS encoding), or how to find it. */
  detail?: bigint | ((w: TdWorld) => bigint);
  why: string;
  world?: WorldOptions;
  setup: (w: TdWorld) => LeafCall;
  then?: (w: TdWorld, r: CallResult) => void;
}

/** One Deno test per row, and a test that the rows cover the leaf's spec statuses. */
export function tdStatusTests(leaf: string, rows: TdStatusRow[]): void {
  for (const row of rows) {
    const what = row.operand ??
      (typeof row.detail === "bigint" ? `0x${row.detail.toString(16)}` : "");
    Deno.test(`${leaf}: ${row.status} ${what} - ${row.why}`, () => {
      const w = new TdWorld(row.world);
      const r = w.call(leaf, row.setup(w));
      assert.equal(r.name, row.status, `status (detail 0x${r.detail.toString(16)})`);
      if (row.operand !== undefined) assert.equal(r.operand, row.operand, "operand");
      if (row.detail !== undefined) {
        const want = typeof row.detail === "bigint" ? row.detail : row.detail(w);
        assert.equal(r.detail, want, "detail");
      }
      const errorClass = (r.status >> 63n) === 1n;
      if (row.operand === undefined && row.detail === undefined && errorClass) {
        assert.equal(r.detail, 0n, "no detail");
      }
      row.then?.(w, r);
    });
  }
  Deno.test(`${leaf}: every status the spec lists is reached by a row`, () => {
    const spec = new Platform().spec;
    const key = (s: string, o?: string) => `${s}/${o ?? "-"}`;
    const covered = new Set(rows.map((r) => key(r.status, r.operand)));
    const missing = spec.seamcall(leaf).statuses.map((s) => key(s.status, s.operand))
      .filter((k) => !covered.has(k));
    assert.deepEqual(missing, []);
  });
}

/** TDH.SYS.SHUTDOWN: no leaf but a few may run any more. */
export function shutDown(w: TdWorld): void {
  w.ok("TDH.SYS.SHUTDOWN", {});
}

/**
 * TDH.PHYMEM.CACHE.WB on one LP of every package, resumed until it completes, so that a
 * blocked TD's HKID can be freed.
 */
export function writeBackCaches(w: TdWorld): void {
  const done = new Set<number>();
  for (const lp of w.p.cpu.lps) {
    const pkg = w.p.cpu.packageOf(lp.id);
    if (done.has(pkg)) continue;
    done.add(pkg);
    let r = w.p.seamcall("TDH.PHYMEM.CACHE.WB", { command: 0 }, { lp: lp.id });
    while (r.name === "TDX_INTERRUPTED_RESUMABLE") {
      r = w.p.seamcall("TDH.PHYMEM.CACHE.WB", { command: 1 }, { lp: lp.id });
    }
    if (r.name !== "TDX_SUCCESS") throw new Error(`TDH.PHYMEM.CACHE.WB failed: ${r.name}`);
  }
}

/** The dispatcher's rows every leaf shares: RAX, TDX_SYS_SHUTDOWN, TDX_SYS_NOT_READY. */
export function dispatcherRows(leaf: string, inputs: (w: TdWorld) => LeafCall): TdStatusRow[] {
  return [
    {
      status: "TDX_OPERAND_INVALID",
      operand: "RAX",
      why: "a leaf version the module does not support",
      setup: (w) => ({ ...inputs(w), version: w.spec.seamcall(leaf).version + 1 }),
    },
    {
      status: "TDX_SYS_SHUTDOWN",
      why: "after TDH.SYS.SHUTDOWN",
      setup: (w) => {
        const c = inputs(w);
        shutDown(w);
        return c;
      },
    },
    {
      status: "TDX_SYS_NOT_READY",
      why: "platform not initialised",
      world: { ready: false },
      setup: inputs,
    },
  ];
}

/** The rows of an explicit HPA operand's checks (invalid, outside TDMRs, busy, wrong page type). */
export function hpaRows(opts: {
  operand: string;
  what: string;
  world?: WorldOptions;
  /** The leaf's call with the operand set to `pa`. */
  call: (w: TdWorld, pa: bigint) => LeafCall;
  /** The valid page the operand names. */
  page: (w: TdWorld) => bigint;
  /** A page of the wrong type. */
  wrongPage: (w: TdWorld) => bigint;
  /** The lock mode the leaf takes on the page (a holder of the conflicting mode makes it busy). */
  lock: LockMode;
  lockKey: (pa: bigint) => string;
}): TdStatusRow[] {
  const { operand, what, world, call, page } = opts;
  return [
    {
      status: "TDX_OPERAND_INVALID",
      operand,
      why: `${what} address with an HKID bit set`,
      world,
      setup: (w) => call(w, w.withHkidBit(page(w))),
    },
    {
      status: "TDX_OPERAND_INVALID",
      operand,
      why: `${what} address not 4 KiB aligned`,
      world,
      setup: (w) => call(w, page(w) + 0x800n),
    },
    {
      status: "TDX_OPERAND_ADDR_RANGE_ERROR",
      operand,
      why: `${what} address outside every TDMR`,
      world,
      setup: (w) => call(w, w.outsideTdmrs()),
    },
    {
      status: "TDX_OPERAND_BUSY",
      operand,
      why: `${what} PAMT entry locked by another operation`,
      world,
      setup: (w) => {
        const pa = page(w);
        w.hold(opts.lockKey(pa), opts.lock === "shared" ? "exclusive" : "shared");
        return call(w, pa);
      },
    },
    {
      status: "TDX_PAGE_METADATA_INCORRECT",
      operand,
      why: `${what} page of the wrong type`,
      world,
      setup: (w) => call(w, opts.wrongPage(w)),
    },
  ];
}

/**
 * The rows every leaf that names a TD by its TDR answers alike: the dispatcher's, the TDR
 * operand's (`operand`, taken in mode `lock`), a fatal TD, keys not configured, no TDCS
 * page; with `opStateHeld`, OP_STATE busy while another operation holds it in that mode.
 * `live` is a valid call on the world's TD.
 */
export function tdrGateRows(leaf: string, opts: {
  operand: string;
  world: WorldOptions;
  lock: LockMode;
  live: (w: TdWorld) => LeafCall;
  opStateHeld?: LockMode;
}): TdStatusRow[] {
  const { world, live } = opts;
  const tdrOnly = (w: TdWorld) => ({ inputs: { tdr_pa: w.td.tdr } });
  const rows: TdStatusRow[] = [
    ...dispatcherRows(leaf, tdrOnly),
    ...hpaRows({
      operand: opts.operand,
      what: "TDR",
      world,
      call: (_w, pa) => ({ inputs: { tdr_pa: pa } }),
      page: (w) => w.td.tdr,
      wrongPage: (w) => w.page(),
      lock: opts.lock,
      lockKey: lockKey.page,
    }),
    {
      status: "TDX_TD_FATAL",
      why: "the TD is marked fatal (injected)",
      world,
      setup: (w) => {
        const c = live(w);
        w.tdState.fatal = true;
        return c;
      },
    },
    {
      status: "TDX_TD_KEYS_NOT_CONFIGURED",
      why: "TDH.MNG.KEY.CONFIG not done",
      world: { td: { stage: "created" } },
      setup: tdrOnly,
    },
    {
      status: "TDX_TDCS_NOT_ALLOCATED",
      why: "no TDCS page",
      world: { td: { stage: "keys" } },
      setup: tdrOnly,
    },
  ];
  const held = opts.opStateHeld;
  if (held) {
    rows.push({
      status: "TDX_OPERAND_BUSY",
      operand: "OP_STATE",
      why: `another operation holds the OP_STATE lock (${held})`,
      world,
      setup: (w) => {
        const c = live(w);
        w.hold(lockKey.tdcs(w.td.tdr), held);
        return c;
      },
    });
  }
  return rows;
}
