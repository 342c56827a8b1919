// Random bytes as the module draws them: 64 bits at a time from the CPU's RDRAND;
// undefined when the CPU reports no entropy (the leaf then fails).
import type { Cpu } from "../cpu/cpu.ts";

export function randomBytes(cpu: Cpu, length: number): Uint8Array | undefined {
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  for (let off = 0; off < length; off += 8) {
    const r = cpu.rdrand64();
    if (r === undefined) return undefined;
    if (off + 8 <= length) view.setBigUint64(off, r, true);
    else for (let i = off; i < length; i++) out[i] = Number((r >> BigInt(8 * (i - off))) & 0xFFn);
  }
  return out;
}
