// Module-layer vectors from declarative scenarios: a named setup (platform bring-up,
// a TD at some stage, a running TD with private pages) and SEAMCALL and TDCALL steps
// with symbolic operands, recorded from the reference and replayed on a fresh platform
// for the expectations.
import { type CallResult, Platform } from "../../impl/module/testing/fixture.ts";
import {
  addExtensionMemory,
  initExtensions,
  quoteAddOn,
  readyWithQuoting,
} from "../../impl/module/testing/extension_steps.ts";
import { leafRegisters } from "../../impl/cpu/leaf_call.ts";
import { type Gpr, registers } from "../../impl/cpu/registers.ts";
import { StructCodec } from "../../impl/spec/codec.ts";
import { flatten, unflatten } from "../../runner/value_format.ts";
import { type CreatedTd, finalizeTd, tdParams } from "../../impl/module/testing/td_fixture.ts";
import { MemoryTd } from "../../impl/module/testing/memory_fixture.ts";
import { alignDown, entryAt, septGeometry } from "../../impl/module/sept.ts";
import type { LeafItem } from "../../impl/spec/mod.ts";
import { toHex } from "../../impl/spec/hex.ts";

import { ModuleSession } from "../../runner/layers/module_layer.ts";
import type { Covered, Step, Vector } from "../../runner/vector_types.ts";
import type { GeneratorContext } from "./generator_context.ts";
import { SeamcallRecorder } from "./seamcall_recorder.ts";
import { teardownTd } from "../../impl/module/testing/td_teardown.ts";
import { SERVTD_SETUPS, type ServtdSetup } from "./servtd_setups.ts";
import { MIGRATION_SETUPS, type MigrationSetup } from "./migration_setups.ts";
import { MIGRATION_MORE_SETUPS, type MigrationMoreSetup } from "./migration_more_setups.ts";

export interface ModuleCase {
  id: string;
  title: string;
  setup?:
    | "fresh"
    | "ready"
    | "td-created"
    | "td-keys"
    | "td-tdcs"
    | "td-initialized"
    | "td-vcpu"
    | "td-finalized"
    | "td-running"
    | "td-running-l2"
    | "td-teardown"
    | PlatformSetup
    | MemorySetup
    | ServtdSetup
    | MigrationSetup
    | MigrationMoreSetup;
  tags?: string[];
  covers?: Covered[];
  /**
   * The platform's facts before the module loads (the `platform.configure` op's input:
   * cmrs, smrr, smrr2, seam_capabilities, lp_packages, package_fms, module). Such a vector
   * has no fixture: its first step configures the platform, then its set-up steps follow.
   */
  platform?: Record<string, unknown>;
  steps: ModuleStepSpec[];
}

/**
 * Platform set-ups short of (or past) a plain ready platform, each a fixture of SEAMCALLs:
 * after TDH.SYS.INIT; after TDH.SYS.LP.INIT on every LP; after TDH.SYS.CONFIG; after
 * TDH.SYS.KEY.CONFIG on every package (SYS_READY, no TDMR initialised); ready with the
 * Quoting add-on selected (TDH.SYS.CONFIG version 1); that plus the extensions' memory
 * pool (TDH.EXT.MEM.ADD); plus TDH.EXT.INIT; plus TDH.QUOTE.INIT (quote-ready); that
 * with a finalized TD of one vCPU (quote-td); and ready, then TDH.SYS.SHUTDOWN.
 */
export type PlatformSetup =
  | "sys-init"
  | "sys-lp-init"
  | "sys-config"
  | "sys-key-config"
  | "ready-quote"
  | "ext-pool"
  | "ext-ready"
  | "quote-ready"
  | "quote-td"
  | "shutdown";

type Operand = string | number;

export type ModuleStepSpec =
  | SeamcallStepSpec
  | TdcallStepSpec
  | WriteStructStepSpec
  | WriteU64StepSpec
  | ReadMemoryStepSpec
  | ConditionStepSpec
  | CpuExitStepSpec;

/**
 * A platform condition (runner/layers/module_conditions.ts), recorded as one step of its
 * op: `cpu_set` (cpu.set), `hold` / `release` (module.hold / module.release, operands
 * such as `$tdr` resolved), `fast_forward` (module.fast_forward, likewise) or
 * `seam_install` (seam.install).
 */
export interface ConditionStepSpec {
  cpu_set?: Record<string, unknown>;
  hold?: Record<string, Operand>;
  release?: Record<string, Operand>;
  fast_forward?: Record<string, Operand>;
  seam_install?: Record<string, unknown>;
  prepare?: boolean;
}

/** The host enters the vCPU and the CPU leaves the TD with a VM exit (td.cpu_exit). */
export interface CpuExitStepSpec {
  cpu_exit: string;
  qualification?: Operand;
  /**
   * Bytes the guest RIP moved since the VM entry (the single-step defence); left out, far
   * enough that the defence does not look.
   */
  rip_advance?: Operand;
  vcpu?: Operand;
  lp?: number;
  /** The TDH.VP.ENTER status the scenario means the reference to answer. */
  expect?: string;
  prepare?: boolean;
}

export interface SeamcallStepSpec {
  /** The leaf by spec name; may be left out only with `rax` (a leaf number the spec lacks). */
  seamcall?: string;
  version?: number;
  /**
   * RAX as is, instead of the leaf and version (reserved bits, unknown leaf numbers). With
   * `seamcall` too, bits 15:0 must be that leaf's number and `inputs` use its names.
   */
  rax?: string;
  lp?: number;
  /** By the leaf's spec register names, or by register name (RCX). */
  inputs?: Record<string, Operand>;
  /**
   * What the scenario means the reference to answer, `NAME` or `NAME(OPERAND)`: the
   * generator fails when it answers otherwise, so a vector never silently records a
   * status its case does not mean.
   */
  expect?: string;
  /** Prepares state for the steps under test: its leaf and status are not claimed in covers. */
  prepare?: boolean;
  /** Registers the vector judges whatever the status (the seamcall op's `out_regs`). */
  out_regs?: string[];
  /**
   * The result keys the vector pins (default: all): e.g. `[status]` where the output
   * registers depend on the implementation's own keys or sizes.
   */
  judge?: string[];
}

/**
 * A host write of a spec struct, encoded from flattened fields (`reserved_areas.0.size`,
 * `cpuid_config_vals.3.eax`); fields not given come from `from` (a named valid value:
 * `default` for TD_PARAMS, `tdmr0`, `tdmr1`, ... for TDMR_INFO, the fixture's TDMRs), or
 * are 0. Recorded as one memory.write step; the struct is claimed in covers.
 */
export interface WriteStructStepSpec {
  write_struct: string;
  at: Operand;
  from?: string;
  fields?: Record<string, Operand>;
  prepare?: boolean;
}

/** A host read of memory a SEAMCALL wrote (a memory.read step; its bytes are the expectation). */
export interface ReadMemoryStepSpec {
  memory_read: Operand;
  length: number;
  prepare?: boolean;
}

/** A host write of 64-bit little-endian values (a TDMR_INFO pointer array, a HPA list). */
export interface WriteU64StepSpec {
  write_u64: Operand[];
  at: Operand;
  prepare?: boolean;
}

/** One TDCALL made by the TD's guest on a vCPU the host enters (the `tdcall` op). */
export interface TdcallStepSpec {
  tdcall: string;
  version?: number;
  /** RAX as is instead of the leaf and version (reserved bits); inputs still use the leaf's names. */
  rax?: string;
  lp?: number;
  /** The vCPU's TDVPR (default `$vcpu`). */
  vcpu?: Operand;
  /** By the leaf's spec register names, or by register name (RCX) for registers it does not name. */
  inputs?: Record<string, Operand>;
  /** The guest's writes to its own memory before the TDCALL; bytes are plain hex. */
  memory_writes?: { gpa: Operand; bytes: string }[];
  /** The guest's reads of its own memory after the TDCALL. */
  memory_reads?: { gpa: Operand; length: number }[];
  /** TDG.VP.VMCALL only: the registers the host passes back when it resumes the vCPU. */
  host_regs?: Record<string, Operand>;
  /**
   * What the TD's L2 VMs do when the module enters them, in order per VM: `{vm, exit_reason,
   * exit_qualification, ...}` (a VM exit and its exit information) or `{vm, tdcall: {RAX, ...}}`.
   */
  l2_guest?: ({ vm: number; tdcall: Record<string, Operand> } | Record<string, unknown>)[];
  /**
   * The host's TDH.VP.ENTER after each TD exit that ended the TDCALL, so that it goes on:
   * `flags` (vcpu_handle_and_flags fields, such as `resume_l1: 1`) and `host_regs`.
   */
  resume?: { flags?: Record<string, number>; host_regs?: Record<string, Operand> }[];
  /**
   * What the scenario means the reference to answer: `NAME`, `NAME(OPERAND)`, `td-exit`
   * or `ve`; the generator fails when it answers otherwise.
   */
  expect?: string;
  prepare?: boolean;
}

interface Symbols {
  td?: CreatedTd;
  vcpu?: bigint;
  pages: Map<string, bigint>;
  hkids: Map<string, number>;
  /** GPAs of the TD pages a running-TD setup provides ($gpa0, $gpa1, ...). */
  gpas: bigint[];
  /** The TD's shared GPA bit. */
  sharedBit?: bigint;
}

/**
 * The pages of a running TD: $gpa0 and $gpa1 added with TDH.MEM.PAGE.ADD before
 * TDH.MR.FINALIZE ($gpa0 holds bytes 0x00, 0x01, ... 0xFF repeated, $gpa1 zeros), $gpa2
 * and $gpa3 4 KiB pages and $gpa4 a 2 MiB page added with TDH.MEM.PAGE.AUG after it
 * (PENDING until the guest accepts them). The L2 set-up also gives $gpa5, a page added
 * in another 1 GiB region with no L2 Secure EPT pages, while the region of $gpa0..$gpa3
 * has them for VM 1.
 */
export const RUNNING_TD_GPAS = [
  0x1000_0000n,
  0x1000_1000n,
  0x1000_2000n,
  0x1000_3000n,
  0x1020_0000n,
  0x4000_0000n,
];

function setUpRunningTd(p: Platform, sym: Symbols, l2: boolean, debug = false) {
  const m = new MemoryTd(p, { stage: "initialized", numL2Vms: l2 ? 1 : 0, debug });
  const [g0, g1, g2, g3, g4, g5] = RUNNING_TD_GPAS;
  m.pageAdd(g0, Uint8Array.from({ length: 4096 }, (_, i) => i & 0xFF));
  m.pageAdd(g1);
  if (l2) {
    m.l2Tables(g0, 0, 1);
    m.pageAdd(g5);
  }
  m.finalize();
  m.aug(g2);
  m.aug(g3);
  m.aug(g4, 1);
  sym.td = m.created;
  sym.vcpu = m.vcpus[0];
  sym.gpas = RUNNING_TD_GPAS.slice(0, l2 ? 6 : 5);
  sym.sharedBit = septGeometry(p.spec, m.td).sharedBit;
}

/**
 * Secure EPT set-ups for the TDH.MEM.* vectors; $gpa0..$gpa5 are the RUNNING_TD_GPAS.
 * - td-septs: an INITIALIZED TD with one vCPU (so a step can run TDH.MR.FINALIZE) and
 *   Secure EPT pages (levels 2, 1 and 0) for the 2 MiB range of $gpa0: $gpa0..$gpa3 are
 *   FREE 4 KiB entries, $gpa4 a FREE 2 MiB entry, and $gpa5 lies in a 1 GiB range with
 *   no Secure EPT page below the level-3 one (its level-2 entry is FREE).
 * - td-running-debug, td-running-l2-debug: td-running and td-running-l2 with
 *   ATTRIBUTES.DEBUG (TDH.MEM.RD, TDH.MEM.WR, TDH.MEM.SEPT.RD of L2 attributes).
 * - td-l2-3vms: an INITIALIZED TD with 3 L2 VMs and no L2 Secure EPT pages, the L1
 *   Secure EPT pages of td-septs and $gpa4 a 2 MiB PENDING page (TDH.MEM.PAGE.AUG).
 * - td-running-l2-3vms: a finalized TD with three L2 VMs and one vCPU: $gpa0 and $gpa1
 *   added, L2 Secure EPT pages for every VM over the 2 MiB range of $gpa0, then $gpa2 and
 *   $gpa3 (4 KiB) and $gpa4 (2 MiB) augmented, PENDING.
 * - td-gpaw52: an INITIALIZED TD with GPAW 52 (a 5-level Secure EPT), no Secure EPT page.
 */
export type MemorySetup =
  | "td-septs"
  | "td-running-debug"
  | "td-running-l2-debug"
  | "td-l2-3vms"
  | "td-running-l2-3vms"
  | "td-gpaw52";

const MEMORY_SETUPS: Record<MemorySetup, (p: Platform, sym: Symbols) => void> = {
  "td-septs": (p, sym) => {
    const m = new MemoryTd(p, { stage: "initialized" });
    m.tables(RUNNING_TD_GPAS[0], 0);
    sym.vcpu = p.createVcpu(m.created);
    memorySymbols(p, sym, m);
  },
  "td-running-debug": (p, sym) => setUpRunningTd(p, sym, false, true),
  "td-running-l2-debug": (p, sym) => setUpRunningTd(p, sym, true, true),
  "td-l2-3vms": (p, sym) => {
    const m = new MemoryTd(p, { stage: "initialized", numL2Vms: 3 });
    m.tables(RUNNING_TD_GPAS[0], 0);
    m.aug(RUNNING_TD_GPAS[4], 1);
    memorySymbols(p, sym, m);
  },
  "td-running-l2-3vms": (p, sym) => {
    const m = new MemoryTd(p, { stage: "initialized", numL2Vms: 3 });
    const [g0, g1, g2, g3, g4] = RUNNING_TD_GPAS;
    m.pageAdd(g0);
    m.pageAdd(g1);
    for (const vm of [1, 2, 3]) m.l2Tables(g0, 0, vm);
    m.finalize();
    m.aug(g2);
    m.aug(g3);
    m.aug(g4, 1);
    memorySymbols(p, sym, m);
    sym.vcpu = m.vcpus[0];
  },
  "td-gpaw52": (p, sym) =>
    memorySymbols(p, sym, new MemoryTd(p, { stage: "initialized", gpaw52: true })),
};

function memorySymbols(p: Platform, sym: Symbols, m: MemoryTd): void {
  sym.td = m.created;
  sym.gpas = [...RUNNING_TD_GPAS];
  sym.sharedBit = septGeometry(p.spec, m.td).sharedBit;
}

function expectSuccess(what: string, r: CallResult): void {
  if (r.name !== "TDX_SUCCESS") throw new Error(`set-up: ${what} answered ${r.name}`);
}

const PLATFORM_SETUPS: Record<PlatformSetup, (p: Platform) => void> = {
  "sys-init": (p) => expectSuccess("TDH.SYS.INIT", p.seamcall("TDH.SYS.INIT")),
  "sys-lp-init": (p) => p.initLps(),
  "sys-config": (p) => {
    p.initLps();
    p.configure();
  },
  "sys-key-config": (p) => {
    p.initLps();
    p.configure();
    p.configureKeys();
  },
  "ready-quote": (p) => p.readyPlatform({ addOnFeatures: quoteAddOn(p) }),
  "ext-pool": (p) => {
    p.readyPlatform({ addOnFeatures: quoteAddOn(p) });
    addExtensionMemory(p);
  },
  "ext-ready": (p) => {
    p.readyPlatform({ addOnFeatures: quoteAddOn(p) });
    addExtensionMemory(p);
    initExtensions(p);
  },
  "quote-ready": (p) => readyWithQuoting(p),
  "quote-td": () => {
    throw new Error("quote-td is set up in setUp");
  },
  "shutdown": (p) => {
    p.readyPlatform();
    expectSuccess("TDH.SYS.SHUTDOWN", p.seamcall("TDH.SYS.SHUTDOWN"));
  },
};

function setUp(p: Platform, setup: ModuleCase["setup"], sym: Symbols) {
  if (setup === "fresh" || setup === undefined) return;
  if (setup === "quote-td") {
    // A finalized TD with one vCPU on a platform with quoting initialised (TDH.QUOTE.GET).
    readyWithQuoting(p);
    sym.td = p.createTd({ stage: "initialized" });
    sym.vcpu = p.createVcpu(sym.td);
    finalizeTd(p, sym.td);
    return;
  }
  if (setup in PLATFORM_SETUPS) return PLATFORM_SETUPS[setup as PlatformSetup](p);
  p.readyPlatform();
  if (setup === "ready") return;
  if (setup in MEMORY_SETUPS) return MEMORY_SETUPS[setup as MemorySetup](p, sym);
  if (setup in SERVTD_SETUPS) return SERVTD_SETUPS[setup as ServtdSetup](p, sym);
  if (setup in MIGRATION_SETUPS) return MIGRATION_SETUPS[setup as MigrationSetup](p, sym);
  if (setup in MIGRATION_MORE_SETUPS) {
    return MIGRATION_MORE_SETUPS[setup as MigrationMoreSetup](p, sym);
  }
  if (setup === "td-running" || setup === "td-running-l2") {
    return setUpRunningTd(p, sym, setup === "td-running-l2");
  }
  const stage =
    ({ "td-created": "created", "td-keys": "keys", "td-tdcs": "tdcs" } as const)[setup as string] ??
      "initialized";
  sym.td = p.createTd({ stage });
  if (setup === "td-vcpu" || setup === "td-finalized") sym.vcpu = p.createVcpu(sym.td);
  if (setup === "td-finalized") finalizeTd(p, sym.td);
  // An initialised TD torn down (TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB on every
  // package, TDH.MNG.KEY.FREEID): its pages wait for TDH.PHYMEM.PAGE.RECLAIM.
  if (setup === "td-teardown") teardownTd(p, sym.td.tdr);
}

function resolve(p: Platform, sym: Symbols, v: string | number, where: string): bigint {
  if (typeof v === "number") return BigInt(v);
  if (/^0x[0-9a-fA-F]+$/.test(v) || /^\d+$/.test(v)) return BigInt(v);
  const m = /^\$([a-z]+)(\d*)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(v);
  if (!m) throw new Error(`${where}: cannot read operand "${v}"`);
  const [, name, idx, plus] = m;
  const add = plus ? BigInt(plus) : 0n;
  const need = <T>(x: T | undefined, what: string): T => {
    if (x === undefined) throw new Error(`${where}: "${v}" needs a setup with ${what}`);
    return x;
  };
  switch (name) {
    case "tdr":
      return need(sym.td, "a TD").tdr + add;
    case "hkid":
      return BigInt(need(sym.td, "a TD").hkid) + add;
    case "tdcx":
      return need(need(sym.td, "a TD").tdcx[Number(idx || 0)], "that many TDCS pages") + add;
    case "vcpu":
      return need(sym.vcpu, "a vCPU") + add;
    case "page": {
      const key = idx || "0";
      if (!sym.pages.has(key)) sym.pages.set(key, p.allocPage());
      return sym.pages.get(key)! + add;
    }
    case "freehkid": {
      const key = idx || "0";
      if (!sym.hkids.has(key)) sym.hkids.set(key, p.freeHkid());
      return BigInt(sym.hkids.get(key)!) + add;
    }
    case "gpa":
      return need(sym.gpas[Number(idx || 0)], "that many TD pages ($gpaN)") + add;
    case "large": {
      // A free 2 MiB host range, 2 MiB aligned (a TDH.MEM.PAGE.AUG target at level 1).
      const key = `large${idx || "0"}`;
      if (!sym.pages.has(key)) sym.pages.set(key, p.allocRange(0x20_0000n, 0x20_0000n));
      return sym.pages.get(key)! + add;
    }
    case "private": {
      // A host page with the TD's KeyID (TDH.PHYMEM.PAGE.WBINVD of a page the TD used).
      const td = need(sym.td, "a TD");
      return p.cpu.memory.withKeyId(resolve(p, sym, `$page${idx}`, where), td.hkid) + add;
    }
    case "hpa": {
      // The HPA that $gpaN maps to when the step runs: the leaf at whichever level maps it.
      const gpa = need(sym.gpas[Number(idx || 0)], "that many TD pages ($gpaN)");
      const td = p.module.state.tds.get(need(sym.td, "a TD").tdr)!;
      for (let level = 0; level <= 2; level++) {
        const e = entryAt(td, level, gpa);
        if (e.leaf) return e.hpa + (gpa - alignDown(gpa, level)) + add;
      }
      throw new Error(`${where}: no Secure EPT leaf maps ${toHex(gpa)}`);
    }
    case "shared": {
      // A host page as the guest sees it: the page's address with the TD's shared bit.
      const bit = need(sym.sharedBit, "a running TD");
      return bit | resolve(p, sym, `$page${idx}`, where) + add;
    }
  }
  throw new Error(`${where}: unknown symbol "$${name}"`);
}

export function moduleSequence(ctx: GeneratorContext, params: Record<string, unknown>): Vector[] {
  return (params.cases as ModuleCase[]).map((c) => moduleVector(ctx, c));
}

/** A leaf's name as vector ids spell it: TDH.MNG.CREATE -> tdh-mng-create. */
function leafId(name: string): string {
  return name.toLowerCase().replaceAll(".", "-").replaceAll("_", "-");
}

/**
 * The dispatcher's gates, leaf by leaf from the spec: every implemented SEAMCALL leaf not
 * allowed before the module is ready answers TDX_SYS_NOT_READY on a fresh platform; after
 * TDH.SYS.SHUTDOWN every leaf not allowed during shutdown answers TDX_SYS_SHUTDOWN (and
 * those allowed still run); a leaf the spec marks not implemented answers
 * TDX_OPERAND_INVALID (RAX) on a ready platform. Operands are 0: the gates come first.
 * Explicit `cases` (module-sequence) follow.
 */
export function moduleDispatchGates(
  ctx: GeneratorContext,
  params: Record<string, unknown>,
): Vector[] {
  const leaves = [...ctx.spec.seamcalls.values()].sort((a, b) => a.leaf - b.leaf);
  const cases: ModuleCase[] = [];
  for (const leaf of leaves) {
    const id = leafId(leaf.name);
    if (leaf.implemented === false) {
      cases.push({
        id: `module.${id}.not-implemented`,
        title:
          `${leaf.name}, which the reference does not implement, is TDX_OPERAND_INVALID naming RAX`,
        setup: "ready",
        tags: ["dispatcher", "negative", "not-implemented"],
        steps: [{ seamcall: leaf.name, expect: "TDX_OPERAND_INVALID(RAX)" }],
      });
      continue;
    }
    if (!leaf.dispatch?.before_sys_ready) {
      cases.push({
        id: `module.dispatch.not-ready.${id}`,
        title: `${leaf.name} before the module is ready is TDX_SYS_NOT_READY`,
        setup: "fresh",
        tags: ["dispatcher", "negative", "not-ready"],
        steps: [{ seamcall: leaf.name, expect: "TDX_SYS_NOT_READY" }],
      });
    }
    cases.push(
      leaf.dispatch?.during_shutdown
        ? {
          id: `module.dispatch.shutdown.${id}`,
          title: `${leaf.name} still runs after TDH.SYS.SHUTDOWN`,
          setup: "shutdown",
          tags: ["dispatcher", "shutdown"],
          steps: [{ seamcall: leaf.name, expect: "TDX_SUCCESS" }],
        }
        : {
          id: `module.dispatch.shutdown.${id}`,
          title: `${leaf.name} after TDH.SYS.SHUTDOWN is TDX_SYS_SHUTDOWN`,
          setup: "shutdown",
          tags: ["dispatcher", "negative", "shutdown"],
          steps: [{ seamcall: leaf.name, expect: "TDX_SYS_SHUTDOWN" }],
        },
    );
  }
  const explicit = (params.cases as ModuleCase[] | undefined) ?? [];
  return [...cases, ...explicit].map((c) => moduleVector(ctx, c));
}

/**
 * One metadata read per field of the spec, by the host leaf of the field's scope:
 * TDH.SYS.RD (global), TDH.MNG.RD (TD), TDH.VP.RD (vCPU). A field the host may not
 * read gives the status that says so.
 */
export function moduleMetadataRead(
  ctx: GeneratorContext,
  _params: Record<string, unknown>,
): Vector[] {
  const leafOf = { global: "TDH.SYS.RD", td: "TDH.MNG.RD", vcpu: "TDH.VP.RD" } as const;
  const setupOf = { global: "ready", td: "td-initialized", vcpu: "td-vcpu" } as const;
  const fields = [...ctx.spec.metadata.values()].sort((a, b) =>
    `${a.scope}:${a.name}`.localeCompare(`${b.scope}:${b.name}`)
  );
  return fields.map((m) => {
    const inputs: Record<string, string> = { field_id: m.field_id };
    if (m.scope === "td") inputs.tdr_pa = "$tdr";
    if (m.scope === "vcpu") inputs.tdvpr_pa = "$vcpu";
    return moduleVector(ctx, {
      id: `module.metadata.${m.scope}.${m.name.toLowerCase()}`,
      title: `${leafOf[m.scope]} of the ${m.scope} metadata field ${m.name} (${m.field_id})`,
      setup: setupOf[m.scope],
      tags: ["metadata", `metadata-${m.scope}`],
      covers: [{ kind: "metadata", name: m.name, scope: m.scope }],
      steps: [{ seamcall: leafOf[m.scope], inputs }],
    });
  });
}

function moduleVector(ctx: GeneratorContext, c: ModuleCase): Vector {
  {
    const configured = new ModuleSession();
    if (c.platform) {
      const got = configured.step("platform.configure", c.platform);
      if (got.error) throw new Error(`${c.id}: platform: ${JSON.stringify(got.error)}`);
    }
    const p = configured.platform;
    const recorder = new SeamcallRecorder(p);
    if (c.platform) recorder.steps.push({ op: "platform.configure", input: c.platform });
    const sym: Symbols = { pages: new Map(), hkids: new Map(), gpas: [] };
    setUp(p, c.setup, sym);
    // A configured platform's set-up is the vector's own: no fixture shares it.
    const setupCount = c.platform ? 0 : recorder.steps.length;
    const guest = new ModuleSession(p);
    for (const [i, s] of c.steps.entries()) {
      const where = `${c.id} step ${i}`;
      if (isCondition(s)) {
        const [op, input] = conditionInput(p, sym, s, where);
        const got = guest.step(op, input);
        if (got.error) throw new Error(`${where}: ${op}: ${JSON.stringify(got.error)}`);
        recorder.steps.push({ op, input });
        continue;
      }
      if ("cpu_exit" in s) {
        const input: Record<string, unknown> = {
          vcpu: toHex(resolve(p, sym, s.vcpu ?? "$vcpu", where)),
          exit_reason: s.cpu_exit,
          qualification: toHex(resolve(p, sym, s.qualification ?? 0, where)),
        };
        if (s.rip_advance !== undefined) {
          input.rip_advance = toHex(resolve(p, sym, s.rip_advance, where));
        }
        if (s.lp !== undefined) input.lp = s.lp;
        const mark = recorder.steps.length;
        const got = guest.step("td.cpu_exit", input);
        recorder.steps.length = mark;
        recorder.steps.push({ op: "td.cpu_exit", input });
        const st = (got.exit as { status?: { name?: string } } | undefined)?.status?.name ??
          JSON.stringify(got);
        if (s.expect !== undefined && st !== s.expect) {
          throw new Error(`${where}: expected ${s.expect}, the reference answered ${st}`);
        }
        continue;
      }
      if ("tdcall" in s) {
        const input = tdcallInput(ctx, p, sym, s, where);
        // The step's own TDH.VP.ENTER calls are the op's business, not recorded host steps.
        const mark = recorder.steps.length;
        const got = tdcallOutcome(guest.step("tdcall", input));
        recorder.steps.length = mark;
        recorder.steps.push({ op: "tdcall", input });
        // `NAME` alone accepts any operand; `NAME(OPERAND)` wants that one.
        if (s.expect !== undefined && got !== s.expect && got.replace(/\(.*\)$/, "") !== s.expect) {
          throw new Error(`${where}: expected ${s.expect}, the reference answered ${got}`);
        }
        continue;
      }
      if ("write_struct" in s) {
        p.cpu.memory.write(resolve(p, sym, s.at, where), structBytes(ctx, p, sym, s, where));
        continue;
      }
      if ("write_u64" in s) {
        const bytes = new Uint8Array(8 * s.write_u64.length);
        const view = new DataView(bytes.buffer);
        s.write_u64.forEach((v, j) => view.setBigUint64(8 * j, resolve(p, sym, v, where), true));
        p.cpu.memory.write(resolve(p, sym, s.at, where), bytes);
        continue;
      }
      if ("memory_read" in s) {
        const pa = resolve(p, sym, s.memory_read, where);
        recorder.steps.push({ op: "memory.read", input: { pa: toHex(pa), length: s.length } });
        continue;
      }
      seamcallStep(ctx, p, sym, s, where);
      if (s.out_regs) recorder.steps[recorder.steps.length - 1].input.out_regs = s.out_regs;
    }
    const ownSetup = c.platform ? recorder.steps.length - c.steps.length : 0;
    if (recorder.steps.length - setupCount - ownSetup !== c.steps.length) {
      throw new Error(`${c.id}: its steps recorded more than one step each`);
    }
    // Replay on a fresh platform: the expectations are what the reference answers.
    const replay = new ModuleSession();
    const all: Step[] = recorder.steps.map((st, i) => {
      const actual = replay.step(st.op, st.input);
      if (st.op === "memory.write") return { ...st, expect: {} };
      if (i < setupCount) return { ...st, expect: { status: actual.status } };
      // A configured vector's own set-up steps are judged as a fixture's are: by status.
      if (i < ownSetup && st.op === "seamcall") return { ...st, expect: { status: actual.status } };
      // `judge` keeps only what every implementation must answer alike.
      const own = i >= setupCount + ownSetup ? c.steps[i - setupCount - ownSetup] : undefined;
      const judge = own && "judge" in own ? own.judge : undefined;
      if (judge) {
        return { ...st, expect: Object.fromEntries(judge.map((k) => [k, actual[k]])) };
      }
      return { ...st, expect: actual };
    });
    const fixture = setupCount > 0
      ? ctx.fixture(
        `module-${c.setup}`,
        `Module layer set-up: ${c.setup}`,
        "module",
        all.slice(0, setupCount),
      )
      : undefined;
    const steps = all.slice(setupCount);
    const covers: Covered[] = [...(c.covers ?? [])];
    const seen = new Set(covers.map((x) => `${x.kind}:${x.name}:${x.leaf ?? ""}`));
    // A status is covered as the answer of the leaf whose step gave it.
    const add = (kind: string, name: string, leaf?: string) => {
      const key = `${kind}:${name}:${leaf ?? ""}`;
      if (!seen.has(key)) covers.push({ kind, name, ...(leaf ? { leaf } : {}) } as Covered);
      seen.add(key);
    };
    for (const [j, st] of steps.entries()) {
      if (j < ownSetup) continue;
      const s = c.steps[j - ownSetup];
      if (s.prepare) continue;
      if ("cpu_exit" in s) {
        add("seamcall", "TDH.VP.ENTER");
        const status = (st.expect.exit as { status?: { name?: string } } | undefined)?.status?.name;
        if (status) add("status", status, "TDH.VP.ENTER");
        continue;
      }
      if ("write_struct" in s) add("struct", s.write_struct);
      if (st.op !== "seamcall" && st.op !== "tdcall") continue;
      // A step with RAX as is names its leaf in the scenario only.
      const leaf = "seamcall" in s && s.seamcall ? s.seamcall : st.input.leaf;
      const named = st.op === "seamcall"
        ? (leaf ? String(leaf) : undefined)
        : "tdcall" in s
        ? s.tdcall
        : undefined;
      if (named) add(st.op, named);
      const status = (st.expect.status as { name?: string } | undefined)?.name;
      if (status) add("status", status, named);
      // A TDCALL that ended in a TD exit: the exit is TDH.VP.ENTER's answer to the host.
      const exit = (st.expect.exit as { status?: { name?: string } } | undefined)?.status?.name;
      if (st.op === "tdcall" && st.expect.td_exit !== undefined && exit) {
        add("seamcall", "TDH.VP.ENTER");
        add("status", exit, "TDH.VP.ENTER");
      }
      const trap = (st.expect.trap_exit as { status?: { name?: string } } | undefined)?.status
        ?.name;
      if (trap) {
        add("seamcall", "TDH.VP.ENTER");
        add("status", trap, "TDH.VP.ENTER");
      }
      // The TD exits the host resumed from during the step (`resume`) are TDH.VP.ENTER's too.
      for (const h of (st.expect.host_exits ?? []) as { status?: { name?: string } }[]) {
        if (!h.status?.name) continue;
        add("seamcall", "TDH.VP.ENTER");
        add("status", h.status.name, "TDH.VP.ENTER");
      }
    }
    return ctx.vector({
      id: c.id,
      title: c.title,
      layer: "module",
      covers,
      tags: c.tags ?? [],
      scenarioCase: c.id,
      fixture,
      steps,
    });
  }
}

/**
 * One SEAMCALL step on the recording platform: registers from the leaf's input names (or
 * register names), RAX as is when the step gives it; checks the step's `expect`.
 */
function seamcallStep(
  ctx: GeneratorContext,
  p: Platform,
  sym: Symbols,
  s: SeamcallStepSpec,
  where: string,
): void {
  const leaf = s.seamcall === undefined ? undefined : ctx.spec.seamcalls.get(s.seamcall);
  if (s.seamcall !== undefined && !leaf) throw new Error(`${where}: no SEAMCALL ${s.seamcall}`);
  if (!leaf && s.rax === undefined) throw new Error(`${where}: a step needs seamcall or rax`);
  const regs = leaf ? leafRegisters(ctx.spec, leaf, {}, s.version ?? 0) : registers();
  if (s.rax !== undefined) {
    regs.RAX = BigInt(s.rax);
    if (leaf && (regs.RAX & 0xFFFFn) !== BigInt(leaf.leaf)) {
      throw new Error(`${where}: rax ${s.rax} is not leaf ${leaf.leaf} (${leaf.name})`);
    }
  }
  for (const [k, v] of Object.entries(s.inputs ?? {})) {
    const reg = leaf ? inputRegister(leaf, k, where) : k;
    if (!/^R[A-Z0-9]+$/.test(reg)) throw new Error(`${where}: ${k} is not a register name`);
    regs[reg as Gpr] = resolve(p, sym, v, where) & 0xFFFF_FFFF_FFFF_FFFFn;
  }
  const outcome = p.cpu.seamcall(s.lp ?? 0, regs);
  if (s.expect === undefined) return;
  const d = p.describe(regs.RAX);
  const got = outcome.kind !== "completed"
    ? outcome.kind
    : `${d.name ?? toHex(regs.RAX)}${d.operand && s.expect.includes("(") ? `(${d.operand})` : ""}`;
  if (got !== s.expect) {
    throw new Error(`${where}: expected ${s.expect}, the reference answered ${got}`);
  }
}

function isCondition(s: ModuleStepSpec): s is ConditionStepSpec {
  return "cpu_set" in s || "hold" in s || "release" in s || "fast_forward" in s ||
    "seam_install" in s;
}

/** A condition step's op and input, its `$` operands resolved to hex. */
function conditionInput(
  p: Platform,
  sym: Symbols,
  s: ConditionStepSpec,
  where: string,
): [string, Record<string, unknown>] {
  if (s.cpu_set) return ["cpu.set", s.cpu_set];
  if (s.seam_install) return ["seam.install", s.seam_install];
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.hold ?? s.release ?? s.fast_forward!)) {
    input[k] = k === "resource" || k === "mode" || k === "lp" || k === "counter"
      ? v
      : toHex(resolve(p, sym, v, where));
  }
  const op = s.hold ? "module.hold" : s.release ? "module.release" : "module.fast_forward";
  return [op, input];
}

/** A named valid value of a struct a write_struct step starts from. */
function structTemplate(
  ctx: GeneratorContext,
  p: Platform,
  struct: string,
  name: string,
  where: string,
): Record<string, unknown> {
  if (struct === "TD_PARAMS" && name === "default") return tdParams(ctx.spec);
  const tdmr = /^tdmr(\d+)$/.exec(name);
  if (struct === "TDMR_INFO" && tdmr) {
    const t = p.tdmrPlan()[Number(tdmr[1])];
    if (!t) throw new Error(`${where}: the fixture has no ${name}`);
    const perTdmr = ctx.spec.struct("TDMR_INFO").fields.find((f) => f.name === "reserved_areas")!
      .count!;
    return {
      tdmr_base: t.base,
      tdmr_size: t.size,
      pamt_1g_base: t.pamt1g.base,
      pamt_1g_size: t.pamt1g.size,
      pamt_2m_base: t.pamt2m.base,
      pamt_2m_size: t.pamt2m.size,
      pamt_4k_base: t.pamt4k.base,
      pamt_4k_size: t.pamt4k.size,
      reserved_areas: Array.from({ length: perTdmr }, (_, j) => {
        const r = t.reserved[j];
        return { offset: r ? r.base - t.base : 0n, size: r ? r.size : 0n };
      }),
    };
  }
  throw new Error(`${where}: no template ${name} for ${struct}`);
}

/** The bytes of a write_struct step: the template (or zeros) with the step's fields. */
function structBytes(
  ctx: GeneratorContext,
  p: Platform,
  sym: Symbols,
  s: WriteStructStepSpec,
  where: string,
): Uint8Array {
  const codec = new StructCodec(ctx.spec);
  const size = ctx.spec.struct(s.write_struct).size;
  if (typeof size !== "number") throw new Error(`${where}: ${s.write_struct} has no fixed size`);
  const base = s.from
    ? codec.decode(
      s.write_struct,
      codec.encode(
        s.write_struct,
        structTemplate(ctx, p, s.write_struct, s.from, where) as never,
      ),
    ).value
    : codec.decode(s.write_struct, new Uint8Array(size)).value;
  const flat = flatten(base);
  for (const [k, v] of Object.entries(s.fields ?? {})) {
    if (!(k in flat)) throw new Error(`${where}: ${s.write_struct} has no field ${k}`);
    flat[k] = typeof v === "string" && v.startsWith("hex:") ? v : toHex(resolve(p, sym, v, where));
  }
  return codec.encode(s.write_struct, unflatten(ctx.spec, s.write_struct, flat));
}

/** The register a TDCALL input names: a spec input name of the leaf, or a register name. */
function inputRegister(leaf: LeafItem, key: string, where: string): string {
  const r = leaf.inputs.find((x) => x.name === key);
  if (r) return r.reg;
  if (/^R[A-Z0-9]+$/.test(key)) return key;
  throw new Error(`${where}: ${leaf.name} has no input named ${key}`);
}

/** A tdcall step's input in the vector format, operands resolved. */
function tdcallInput(
  ctx: GeneratorContext,
  p: Platform,
  sym: Symbols,
  s: TdcallStepSpec,
  where: string,
): Record<string, unknown> {
  const leaf = ctx.spec.tdcalls.get(s.tdcall);
  if (!leaf) throw new Error(`${where}: no TDCALL leaf ${s.tdcall} in the spec`);
  const hex = (v: Operand) => toHex(resolve(p, sym, v, where) & 0xFFFF_FFFF_FFFF_FFFFn);
  const input: Record<string, unknown> = { vcpu: hex(s.vcpu ?? "$vcpu") };
  if (s.lp !== undefined) input.lp = s.lp;
  if (s.rax !== undefined) input.rax = s.rax;
  else Object.assign(input, { leaf: leaf.name, version: s.version ?? 0 });
  const regs: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.inputs ?? {})) {
    regs[inputRegister(leaf, k, where)] = hex(v);
  }
  input.regs = regs;
  if (s.memory_writes) {
    input.memory_writes = s.memory_writes.map((w) => ({ gpa: hex(w.gpa), bytes: w.bytes }));
  }
  if (s.memory_reads) {
    input.memory_reads = s.memory_reads.map((r) => ({ gpa: hex(r.gpa), length: r.length }));
  }
  if (s.host_regs) {
    input.host_regs = Object.fromEntries(
      Object.entries(s.host_regs).map(([k, v]) => [k, hex(v)]),
    );
  }
  const regsHex = (r: Record<string, Operand>) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, hex(v)]));
  if (s.l2_guest) {
    // Exit information is hex; the VM and the exit reason are as given.
    input.l2_guest = s.l2_guest.map((e) =>
      Object.fromEntries(
        Object.entries(e).map(([k, v]) => [
          k,
          k === "vm" || k === "exit_reason"
            ? v
            : k === "tdcall"
            ? regsHex(v as Record<string, Operand>)
            : hex(v as Operand),
        ]),
      )
    );
  }
  if (s.resume) {
    input.resume = s.resume.map((r) => ({
      ...(r.flags ? { flags: r.flags } : {}),
      ...(r.host_regs ? { host_regs: regsHex(r.host_regs) } : {}),
    }));
  }
  return input;
}

/** A tdcall result in a step's `expect` terms: `NAME(OPERAND)`, `td-exit`, `ve`, ... */
function tdcallOutcome(r: Record<string, unknown>): string {
  if (r.td_exit !== undefined) return "td-exit";
  if (r.ve !== undefined) return "ve";
  const st = r.status as { name?: string; operand?: string } | undefined;
  if (st?.name) return st.operand ? `${st.name}(${st.operand})` : st.name;
  return JSON.stringify(r);
}
