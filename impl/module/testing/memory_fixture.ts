// Test support for the TDH.MEM.* leaves: a TD on a ready platform, helpers that build
// its Secure EPT and pages through real SEAMCALLs, and a table-driven runner that
// checks a status, its operand or detail, for each row, plus a coverage check that the
// rows reach every (status, operand) pair the leaf's spec file lists.
import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { lockKey } from "../locks.ts";
import { alignDown, entryAt, levelSize, septGeometry } from "../sept.ts";
import type { TdState } from "../state.ts";
import { type CallResult, Platform } from "./fixture.ts";
import { type CreatedTd, createTd, createVcpu, finalizeTd } from "./td_fixture.ts";

export interface TdOptions {
  debug?: boolean;
  numL2Vms?: number;
  gpaw52?: boolean;
  /** How far to build: MNG.CREATE only, keys configured, TDCS added, INITIALIZED, RUNNABLE. */
  stage?: "created" | "keys" | "tdcs" | "initialized" | "runnable";
}

/** A private GPA well inside GPAW 48, 1 GiB aligned. */
export const GPA = 0x4000_0000n;
export const MB2 = 0x20_0000n;
export const GB1 = 0x4000_0000n;
/** A physical address between the fixture's two TDMRs: in no TDMR. */
export const NOT_IN_TDMR = 0x8000_0000n;

type Inputs = Record<string, bigint | number>;

export class MemoryTd {
  readonly tdr: bigint;
  readonly hkid: number;
  readonly created: CreatedTd;
  /** TDVPRs of the vCPUs created for TDH.MR.FINALIZE. */
  readonly vcpus: bigint[] = [];

  constructor(readonly p: Platform, opts: TdOptions = {}) {
    this.created = buildTd(this, opts);
    this.tdr = this.created.tdr;
    this.hkid = this.created.hkid;
  }

  get td(): TdState {
    return this.p.module.state.tds.get(this.tdr)!;
  }
  get state() {
    return this.p.module.state;
  }
  get spec() {
    return this.p.spec;
  }
  get maxLevel(): number {
    return septGeometry(this.spec, this.td).maxLevel;
  }

  page(): bigint {
    return this.p.allocPage();
  }

  call(leaf: string, inputs: Inputs, opts: { version?: number; lp?: number } = {}): CallResult {
    return this.p.seamcall(leaf, inputs, opts);
  }

  ok(leaf: string, inputs: Inputs, opts: { version?: number } = {}): CallResult {
    const r = this.call(leaf, inputs, opts);
    if (r.name !== "TDX_SUCCESS") {
      throw new Error(`${leaf} failed: ${r.name} ${r.operand ?? ""} 0x${r.detail.toString(16)}`);
    }
    return r;
  }

  /** GPA_AND_LEVEL for the entry at `level` covering `gpa` (the GPA aligned down to it). */
  gal(gpa: bigint, level: number): bigint {
    return this.galRaw(alignDown(gpa, level), level);
  }

  /** GPA_AND_LEVEL exactly as given (for alignment failures). */
  galRaw(gpa: bigint, level: number): bigint {
    return encodeBits(this.spec.bitfield("GPA_AND_LEVEL").fields, {
      gpa: gpa >> 12n,
      level: BigInt(level),
    });
  }

  /** TDH.MEM.SEPT.ADD of a new page at `level` for `gpa`. */
  septAdd(gpa: bigint, level: number, page = this.page()): bigint {
    this.ok("TDH.MEM.SEPT.ADD", {
      gpa_and_level: this.gal(gpa, level),
      tdr_and_flags: this.tdr,
      sept_page_pa: page,
    });
    return page;
  }

  /** Secure EPT pages down to `level`: the entries at `level` for `gpa` then exist. */
  tables(gpa: bigint, level: number): void {
    for (let l = this.maxLevel; l > level; l--) {
      if (entryAt(this.td, l, gpa).state === "FREE") this.septAdd(gpa, l);
    }
  }

  /** The same for an L2 VM (TDH.MEM.SEPT.ADD version 1, L1 page already there). */
  l2Tables(gpa: bigint, level: number, vm: number): void {
    this.tables(gpa, level);
    for (let l = this.maxLevel; l > level; l--) {
      if (entryAt(this.td, l, gpa, vm).state !== "L2_FREE") continue;
      const inputs: Inputs = {
        gpa_and_level: this.gal(gpa, l),
        tdr_and_flags: this.tdr,
        sept_page_pa: -1n,
        l2_sept_page_pa_vm1: -1n,
        l2_sept_page_pa_vm2: -1n,
        l2_sept_page_pa_vm3: -1n,
      };
      inputs[`l2_sept_page_pa_vm${vm}`] = this.page();
      this.ok("TDH.MEM.SEPT.ADD", inputs, { version: 1 });
    }
  }

  /** A host page in shared memory (KeyID 0) holding `bytes`. */
  sharedPage(bytes: Uint8Array = new Uint8Array(4096)): bigint {
    const pa = this.page();
    this.p.cpu.memory.write(pa, bytes);
    return pa;
  }

  /** TDH.MEM.PAGE.ADD of a 4 KiB page with `bytes` at `gpa` (TD not finalized). */
  pageAdd(gpa: bigint, bytes?: Uint8Array): bigint {
    this.tables(gpa, 0);
    const target = this.page();
    this.ok("TDH.MEM.PAGE.ADD", {
      gpa_and_level: this.gal(gpa, 0),
      tdr_pa: this.tdr,
      target_page_pa: target,
      source_page_pa: this.sharedPage(bytes),
    });
    return target;
  }

  /** TDH.MEM.PAGE.AUG of a 4 KiB or 2 MiB page at `gpa`. */
  aug(gpa: bigint, level = 0, target?: bigint): bigint {
    this.tables(gpa, level);
    const pa = target ?? this.p.allocRange(levelSize(level), levelSize(level));
    this.ok("TDH.MEM.PAGE.AUG", {
      gpa_and_level: this.gal(gpa, level),
      tdr_pa: this.tdr,
      target_page_pa: pa,
    });
    return pa;
  }

  block(gpa: bigint, level = 0): void {
    this.ok("TDH.MEM.RANGE.BLOCK", { gpa_and_level: this.gal(gpa, level), tdr_pa: this.tdr });
  }

  track(): void {
    this.ok("TDH.MEM.TRACK", { tdr_pa: this.tdr });
  }

  /** Makes the TD RUNNABLE: a vCPU (the module wants one), then TDH.MR.FINALIZE. */
  finalize(): void {
    this.vcpus.push(createVcpu(this.p, this.created));
    finalizeTd(this.p, this.created);
  }

  /** Holds a lock as an operation in flight on another logical processor would. */
  hold(resource: string, mode: "shared" | "exclusive" = "exclusive"): () => void {
    return this.state.locks.hold(resource, mode);
  }

  holdSeptEntry(gpa: bigint, level: number): () => void {
    return this.hold(lockKey.sept(this.tdr, alignDown(gpa, level), level));
  }

  /** A host interrupt is pending (or not) on LP 0, where the calls run. */
  interruptPending(on: boolean): void {
    this.p.cpu.pendHostInterrupt(0, on);
  }
}

// ---------------------------------------------------------------------------------
// TD construction: the TD life-cycle fixture (real TDH.MNG.* SEAMCALLs, TDH.MR.FINALIZE).

function buildTd(m: MemoryTd, opts: TdOptions): CreatedTd {
  const stage = opts.stage ?? "initialized";
  const td = createTd(m.p, {
    stage: stage === "runnable" ? "initialized" : stage,
    debug: opts.debug,
    numL2Vms: opts.numL2Vms,
    gpaw52: opts.gpaw52,
  });
  if (stage === "runnable") {
    m.vcpus.push(createVcpu(m.p, td));
    finalizeTd(m.p, td);
  }
  return td;
}

// ---------------------------------------------------------------------------------
// Table-driven status tests

export interface LeafCall {
  inputs: Inputs;
  version?: number;
}

export interface StatusRow {
  status: string;
  /** OPERAND_ID the detail names, when the status names one. */
  operand?: string;
  /** Raw detail, for statuses whose detail is not an operand (L2 VM and level...). */
  detail?: bigint;
  why: string;
  td?: TdOptions;
  /** Prepares the TD (through SEAMCALLs where possible) and returns the leaf's inputs. */
  setup: (m: MemoryTd) => LeafCall;
  /** More checks: outputs, state changes. */
  then?: (m: MemoryTd, r: CallResult) => void;
  /** Cleanup after the call (e.g. lock holders that must not leak into `then`). */
  after?: (m: MemoryTd) => void;
}

/** Registers one Deno test per row and a coverage test against the leaf's spec statuses. */
export function statusTests(leaf: string, rows: StatusRow[]): void {
  for (const row of rows) {
    const what = row.operand ?? (row.detail !== undefined ? `0x${row.detail.toString(16)}` : "");
    Deno.test(`${leaf}: ${row.status} ${what} - ${row.why}`, () => {
      const m = new MemoryTd(new Platform(), row.td);
      const call = row.setup(m);
      const r = m.call(leaf, call.inputs, { version: call.version });
      row.after?.(m);
      assert.equal(r.name, row.status, `status (detail 0x${r.detail.toString(16)})`);
      if (row.operand !== undefined) assert.equal(r.operand, row.operand, "operand");
      if (row.detail !== undefined) assert.equal(r.detail, row.detail, "detail");
      if (row.operand === undefined && row.detail === undefined && row.status !== "TDX_SUCCESS") {
        assert.equal(r.detail, 0n, "no detail");
      }
      row.then?.(m, r);
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

/**
 * The rows every TD-scoped memory leaf shares: the TDR operand checks and the TD state
 * checks, which come first in the module's order.
 */
export function tdGateRows(opts: {
  tdrInput: string;
  tdrOperand: string;
  /** The leaf's inputs with a given TDR operand value (other operands may be anything). */
  inputs: (m: MemoryTd, tdr: bigint) => LeafCall;
  /** False for leaves that take no OP_STATE lock (TDH.MEM.PAGE.ADD). */
  opStateLock?: boolean;
  /** The TDR lock mode the leaf takes (a holder of the other kind makes it busy). */
  tdrLock?: "shared" | "exclusive";
}): StatusRow[] {
  const op = opts.tdrOperand;
  const hkidBit = (m: MemoryTd) => 1n << BigInt(m.p.cpu.memory.keyIdShift);
  const rows: StatusRow[] = [
    {
      status: "TDX_OPERAND_INVALID",
      operand: op,
      why: "TDR address with HKID bits",
      setup: (m) => opts.inputs(m, m.tdr | hkidBit(m)),
    },
    {
      status: "TDX_OPERAND_ADDR_RANGE_ERROR",
      operand: op,
      why: "TDR address outside every TDMR",
      setup: (m) => opts.inputs(m, NOT_IN_TDMR),
    },
    {
      status: "TDX_OPERAND_BUSY",
      operand: op,
      why: "TDR PAMT entry held by another operation",
      setup: (m) => {
        m.hold(lockKey.page(m.tdr), opts.tdrLock === "exclusive" ? "shared" : "exclusive");
        return opts.inputs(m, m.tdr);
      },
    },
    {
      status: "TDX_PAGE_METADATA_INCORRECT",
      operand: op,
      why: "the page is not a TDR",
      setup: (m) => opts.inputs(m, m.page()),
    },
    {
      status: "TDX_TD_FATAL",
      why: "the TD is fatal",
      setup: (m) => {
        m.td.fatal = true;
        return opts.inputs(m, m.tdr);
      },
    },
    {
      status: "TDX_TD_KEYS_NOT_CONFIGURED",
      why: "only TDH.MNG.CREATE has run",
      td: { stage: "created" },
      setup: (m) => opts.inputs(m, m.tdr),
    },
    {
      status: "TDX_TDCS_NOT_ALLOCATED",
      why: "keys configured, no TDCS pages",
      td: { stage: "keys" },
      setup: (m) => opts.inputs(m, m.tdr),
    },
    {
      status: "TDX_OP_STATE_INCORRECT",
      why: "TDCS added but TDH.MNG.INIT not run (UNINITIALIZED)",
      td: { stage: "tdcs" },
      setup: (m) => opts.inputs(m, m.tdr),
    },
  ];
  if (opts.opStateLock !== false) {
    rows.push({
      status: "TDX_OPERAND_BUSY",
      operand: "OP_STATE",
      why: "the OP_STATE lock is held exclusively",
      setup: (m) => {
        m.hold(lockKey.tdcs(m.tdr));
        return opts.inputs(m, m.tdr);
      },
    });
  }
  return rows;
}

/** Asserts RCX/RDX carry an entry in `state` at `level` (SEPT_LEVEL_AND_STATE). */
export function assertReported(
  m: MemoryTd,
  r: CallResult,
  level: number,
  state: string,
  entryOut = "sept_entry",
): void {
  const f = m.spec.bitfield("SEPT_LEVEL_AND_STATE").fields;
  const rdx = r.out.sept_level_and_state;
  const get = (n: string) => {
    const b = f.find((x) => x.name === n)!.bits;
    return (rdx >> BigInt(b[0])) & ((1n << BigInt(b[1] - b[0] + 1)) - 1n);
  };
  assert.equal(get("level"), BigInt(level), "reported level");
  assert.equal(get("state"), m.spec.enumValue("SEPT_ENTRY_STATE", state), "reported state");
  if (state === "FREE") {
    assert.equal(r.out[entryOut], encodeBits(m.spec.bitfield("SEPT_ENTRY").fields, { sve: 1n }));
  }
}
