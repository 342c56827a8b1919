// The reference's module layer: a fresh platform (CPU + TDX module) per vector; steps
// write host memory and issue SEAMCALLs with registers as the vector gives them.
import { Platform } from "../../impl/module/testing/fixture.ts";
import { leafRegisters } from "../../impl/cpu/leaf_call.ts";
import { type Gpr, registers } from "../../impl/cpu/registers.ts";
import { bytesToHex, hexToBytes, parseHex, toHex } from "../../impl/spec/hex.ts";
import type { Spec } from "../../impl/spec/mod.ts";
import type { StepActual } from "../vector_types.ts";

/** A status as vectors state it: its name and the operand (or raw detail), never a message. */
export function statusView(
  spec: Spec,
  value: bigint,
  describe: Platform["describe"],
): Record<string, unknown> {
  const d = describe(value);
  if (d.name === undefined) return { value: toHex(value, 16) };
  const item = spec.status(d.name);
  const view: Record<string, unknown> = { name: d.name };
  if (item.detail === "operand_id" && d.operand !== undefined) view.operand = d.operand;
  else if (d.detail !== 0n) view.detail = toHex(d.detail);
  return view;
}

export class ModuleSession {
  readonly platform = new Platform();

  step(op: string, input: Record<string, unknown>): StepActual {
    const p = this.platform;
    switch (op) {
      case "memory.write":
        p.cpu.memory.write(parseHex(String(input.pa)), hexToBytes(String(input.bytes)));
        return {};
      case "memory.read":
        return {
          bytes: bytesToHex(p.cpu.memory.read(parseHex(String(input.pa)), Number(input.length))),
        };
      case "seamcall": {
        // Either a leaf by name and version, or RAX as is (unknown leaves, reserved bits).
        const leaf = input.leaf !== undefined
          ? p.spec.seamcalls.get(String(input.leaf))
          : undefined;
        if (input.leaf !== undefined && !leaf) {
          return { error: { class: "unknown-leaf", leaf: input.leaf } };
        }
        const regs = leaf
          ? leafRegisters(p.spec, leaf, {}, Number(input.version ?? 0))
          : registers();
        if (!leaf) regs.RAX = parseHex(String(input.rax));
        for (const [reg, v] of Object.entries((input.regs ?? {}) as Record<string, string>)) {
          regs[reg as Gpr] = parseHex(v);
        }
        const outcome = p.cpu.seamcall(Number(input.lp ?? 0), regs);
        if (outcome.kind !== "completed") return { fault: outcome.kind };
        const status = statusView(p.spec, regs.RAX, (v) => p.describe(v));
        const result: StepActual = { status };
        if (leaf && status.name === "TDX_SUCCESS") {
          const out: Record<string, string> = {};
          for (const r of leaf.outputs) {
            if (r.reg !== "RAX" && r.reg in regs) out[r.reg] = toHex(regs[r.reg as Gpr]);
          }
          result.regs = out;
        }
        return result;
      }
    }
    return { error: { class: "unsupported-op", op } };
  }
}
