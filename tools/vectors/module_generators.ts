// Module-layer vectors from declarative scenarios: a named setup (platform bring-up,
// a TD at some stage, a running TD with private pages) and SEAMCALL and TDCALL steps
// with symbolic operands, recorded from the reference and replayed on a fresh platform
// for the expectations.
import { Platform } from "../../impl/module/testing/fixture.ts";
import { type CreatedTd, finalizeTd } from "../../impl/module/testing/td_fixture.ts";
import { MemoryTd } from "../../impl/module/testing/memory_fixture.ts";
import { septGeometry } from "../../impl/module/sept.ts";
import type { LeafItem } from "../../impl/spec/mod.ts";
import { toHex } from "../../impl/spec/hex.ts";

import { ModuleSession } from "../../runner/layers/module_layer.ts";
import type { Covered, Step, Vector } from "../../runner/vector_types.ts";
import type { GeneratorContext } from "./generator_context.ts";
import { SeamcallRecorder } from "./seamcall_recorder.ts";

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
    | "td-running-l2";
  tags?: string[];
  covers?: Covered[];
  steps: (SeamcallStepSpec | TdcallStepSpec)[];
}

type Operand = string | number;

export interface SeamcallStepSpec {
  seamcall: string;
  version?: number;
  lp?: number;
  inputs?: Record<string, Operand>;
  /** Prepares state for the steps under test: its leaf and status are not claimed in covers. */
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

function setUpRunningTd(p: Platform, sym: Symbols, l2: boolean) {
  const m = new MemoryTd(p, { stage: "initialized", numL2Vms: l2 ? 1 : 0 });
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

function setUp(p: Platform, setup: ModuleCase["setup"], sym: Symbols) {
  if (setup === "fresh" || setup === undefined) return;
  p.readyPlatform();
  if (setup === "ready") return;
  if (setup === "td-running" || setup === "td-running-l2") {
    return setUpRunningTd(p, sym, setup === "td-running-l2");
  }
  const stage =
    ({ "td-created": "created", "td-keys": "keys", "td-tdcs": "tdcs" } as const)[setup as string] ??
      "initialized";
  sym.td = p.createTd({ stage });
  if (setup === "td-vcpu" || setup === "td-finalized") sym.vcpu = p.createVcpu(sym.td);
  if (setup === "td-finalized") finalizeTd(p, sym.td);
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
    const p = new Platform();
    const recorder = new SeamcallRecorder(p);
    const sym: Symbols = { pages: new Map(), hkids: new Map(), gpas: [] };
    setUp(p, c.setup, sym);
    const setupCount = recorder.steps.length;
    const guest = new ModuleSession(p);
    for (const [i, s] of c.steps.entries()) {
      const where = `${c.id} step ${i}`;
      if ("tdcall" in s) {
        const input = tdcallInput(ctx, p, sym, s, where);
        // The step's own TDH.VP.ENTER calls are the op's business, not recorded host steps.
        const mark = recorder.steps.length;
        guest.step("tdcall", input);
        recorder.steps.length = mark;
        recorder.steps.push({ op: "tdcall", input });
        continue;
      }
      const inputs: Record<string, bigint> = {};
      for (const [k, v] of Object.entries(s.inputs ?? {})) inputs[k] = resolve(p, sym, v, where);
      p.seamcall(s.seamcall, inputs, { lp: s.lp, version: s.version });
    }
    if (recorder.steps.length - setupCount !== c.steps.length) {
      throw new Error(`${c.id}: its steps recorded more than one step each`);
    }
    // Replay on a fresh platform: the expectations are what the reference answers.
    const replay = new ModuleSession();
    const all: Step[] = recorder.steps.map((st, i) => {
      const actual = replay.step(st.op, st.input);
      if (st.op === "memory.write") return { ...st, expect: {} };
      if (i < setupCount) return { ...st, expect: { status: actual.status } };
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
    const seen = new Set(covers.map((x) => `${x.kind}:${x.name}`));
    const add = (kind: string, name: string) => {
      if (!seen.has(`${kind}:${name}`)) covers.push({ kind, name } as Covered);
      seen.add(`${kind}:${name}`);
    };
    for (const [i, st] of steps.entries()) {
      const s = c.steps[i];
      if (s.prepare) continue;
      if (st.op === "seamcall" && st.input.leaf) add("seamcall", String(st.input.leaf));
      else if ("tdcall" in s) add("tdcall", s.tdcall);
      else continue;
      const status = (st.expect.status as { name?: string } | undefined)?.name;
      if (status) add("status", status);
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
  return input;
}
