// Module-layer vectors from declarative scenarios: a named setup (platform bring-up,
// a TD at some stage) and SEAMCALL steps with symbolic operands, recorded from the
// reference and replayed on a fresh platform for the expectations.
import { Platform } from "../../impl/module/testing/fixture.ts";
import { type CreatedTd, finalizeTd } from "../../impl/module/testing/td_fixture.ts";

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
    | "td-finalized";
  tags?: string[];
  covers?: Covered[];
  steps: {
    seamcall: string;
    version?: number;
    lp?: number;
    inputs?: Record<string, string | number>;
  }[];
}

interface Symbols {
  td?: CreatedTd;
  vcpu?: bigint;
  pages: Map<string, bigint>;
  hkids: Map<string, number>;
}

function setUp(p: Platform, setup: ModuleCase["setup"], sym: Symbols) {
  if (setup === "fresh" || setup === undefined) return;
  p.readyPlatform();
  if (setup === "ready") return;
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
  }
  throw new Error(`${where}: unknown symbol "$${name}"`);
}

export function moduleSequence(ctx: GeneratorContext, params: Record<string, unknown>): Vector[] {
  const cases = params.cases as ModuleCase[];
  return cases.map((c) => {
    const p = new Platform();
    const recorder = new SeamcallRecorder(p);
    const sym: Symbols = { pages: new Map(), hkids: new Map() };
    setUp(p, c.setup, sym);
    const setupCount = recorder.steps.length;
    for (const [i, s] of c.steps.entries()) {
      const inputs: Record<string, bigint> = {};
      for (const [k, v] of Object.entries(s.inputs ?? {})) {
        inputs[k] = resolve(p, sym, v, `${c.id} step ${i}`);
      }
      p.seamcall(s.seamcall, inputs, { lp: s.lp, version: s.version });
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
    for (const st of steps) {
      if (st.op !== "seamcall") continue;
      if (st.input.leaf) add("seamcall", String(st.input.leaf));
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
  });
}
