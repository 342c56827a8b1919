// Records what a host does to a platform, as vector steps: its writes to memory and
// its SEAMCALLs with their registers. Memory the module writes during a SEAMCALL is the
// module's business and is not recorded.
import type { Platform } from "../../impl/module/testing/fixture.ts";
import { decodeBits } from "../../impl/spec/bits.ts";
import { bytesToHex, toHex } from "../../impl/spec/hex.ts";
import { GPR_NAMES, type Registers } from "../../impl/cpu/registers.ts";
import type { Step } from "../../runner/vector_types.ts";

export class SeamcallRecorder {
  readonly steps: Omit<Step, "expect">[] = [];
  private depth = 0;

  constructor(private readonly p: Platform) {
    const mem = p.cpu.memory;
    const write = mem.write.bind(mem);
    mem.write = (pa: bigint, bytes: Uint8Array) => {
      if (this.depth === 0) {
        this.steps.push({ op: "memory.write", input: { pa: toHex(pa), bytes: bytesToHex(bytes) } });
      }
      write(pa, bytes);
    };
    const seamcall = p.cpu.seamcall.bind(p.cpu);
    p.cpu.seamcall = (lpId: number, regs: Registers) => {
      if (this.depth === 0) this.steps.push({ op: "seamcall", input: this.describe(lpId, regs) });
      this.depth++;
      try {
        return seamcall(lpId, regs);
      } finally {
        this.depth--;
      }
    };
  }

  private describe(lp: number, regs: Registers): Record<string, unknown> {
    const spec = this.p.spec;
    const layout = spec.bitfield("SEAMCALL_LEAF").fields;
    const { fields, undefinedBits } = decodeBits(layout, regs.RAX);
    const number = Number(fields[layout.find((f) => f.bits[0] === 0)!.name]);
    const version = Number(fields[layout.find((f) => f.bits[0] === 16)!.name]);
    const leaf = [...spec.seamcalls.values()].find((l) => l.leaf === number);
    const reservedSet = undefinedBits !== 0n ||
      layout.some((f) => f.reserved && fields[f.name] !== 0n);
    const input: Record<string, unknown> = leaf && !reservedSet
      ? { leaf: leaf.name, version }
      : { rax: toHex(regs.RAX) };
    if (lp !== 0) input.lp = lp;
    const named = new Set(leaf?.inputs.map((r) => r.reg) ?? []);
    const out: Record<string, string> = {};
    for (const r of GPR_NAMES) {
      if (r === "RAX") continue;
      if (named.has(r) || regs[r] !== 0n) out[r] = toHex(regs[r]);
    }
    input.regs = out;
    return input;
  }
}
