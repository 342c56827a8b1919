// The general-purpose register file of one logical processor, 64-bit values as bigint.

export const GPR_NAMES = [
  "RAX",
  "RBX",
  "RCX",
  "RDX",
  "RSI",
  "RDI",
  "RBP",
  "RSP",
  "R8",
  "R9",
  "R10",
  "R11",
  "R12",
  "R13",
  "R14",
  "R15",
] as const;
export type Gpr = typeof GPR_NAMES[number];
export type Registers = Record<Gpr, bigint>;

const U64 = (1n << 64n) - 1n;

export function zeroRegisters(): Registers {
  return Object.fromEntries(GPR_NAMES.map((r) => [r, 0n])) as Registers;
}

/** A register file with some registers set; values are truncated to 64 bits like hardware. */
export function registers(values: Partial<Record<Gpr, bigint | number>> = {}): Registers {
  const r = zeroRegisters();
  for (const [k, v] of Object.entries(values)) {
    if (!(GPR_NAMES as readonly string[]).includes(k)) throw new RangeError(`no register ${k}`);
    r[k as Gpr] = BigInt(v!) & U64;
  }
  return r;
}

export function isGpr(name: string): name is Gpr {
  return (GPR_NAMES as readonly string[]).includes(name);
}

/** RFLAGS bits the instructions set. */
export const RFLAGS = { CF: 1n << 0n, ZF: 1n << 6n } as const;
