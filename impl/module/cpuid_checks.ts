// The CPUID leaves the modelled module samples at TDH.SYS.INIT, the values it requires in
// them, and the parts every LP must report identically (TDH.SYS.LP.INIT). Leaf numbers
// and bit positions are the spec's (enum CPUID_LEAF, bitfields CPUID_*); which bits this
// build requires is the module's own choice, a subset of what tdx_1.5 verifies.
import type { Spec } from "../spec/mod.ts";
import { encodeBits } from "../spec/bits.ts";
import type { CpuidValues } from "../cpu/cpuid.ts";

export type CpuidReg = keyof CpuidValues;
const REGS: CpuidReg[] = ["eax", "ebx", "ecx", "edx"];

export interface CpuidCheck {
  /** CPUID_LEAF value name. */
  leaf: string;
  /** Sub-leaves sampled by the generic loop (leaf 0x1F is walked separately). */
  subleaves: number[];
  /** The leaf has no sub-leaves: reported with sub-leaf all ones. */
  noSubleaf?: boolean;
  /** Bits that must be set, by register, as named fields of a bitfield item. */
  require?: { reg: CpuidReg; bitfield: string; fields: string[] }[];
  /** Registers that must equal an exact value (the vendor string). */
  exact?: Partial<CpuidValues>;
  /** Registers that must read the same on every LP. */
  same: CpuidReg[];
  mask(spec: Spec): CpuidValues;
  value(spec: Spec): CpuidValues;
  matches(spec: Spec, v: CpuidValues): boolean;
  sameMask(): CpuidValues;
}

function ascii4(s: string): number {
  return [...s].reduce((acc, ch, i) => acc | (ch.charCodeAt(0) << (8 * i)), 0) >>> 0;
}

function check(def: Omit<CpuidCheck, "mask" | "value" | "matches" | "sameMask">): CpuidCheck {
  const build = (spec: Spec, want: "mask" | "value"): CpuidValues => {
    const out: CpuidValues = { eax: 0, ebx: 0, ecx: 0, edx: 0 };
    for (const reg of REGS) {
      const exact = def.exact?.[reg];
      if (exact !== undefined) out[reg] = want === "mask" ? 0xFFFF_FFFF : exact;
    }
    for (const r of def.require ?? []) {
      const bits = Number(
        encodeBits(
          spec.bitfield(r.bitfield).fields,
          Object.fromEntries(r.fields.map((f) => [f, 1n])),
        ),
      );
      out[r.reg] = (out[r.reg] | bits) >>> 0;
    }
    return out;
  };
  return {
    ...def,
    mask: (spec) => build(spec, "mask"),
    value: (spec) => build(spec, "value"),
    matches(spec, v) {
      const m = build(spec, "mask");
      const want = build(spec, "value");
      return REGS.every((reg) => ((v[reg] & m[reg]) >>> 0) === want[reg]);
    },
    sameMask() {
      const out: CpuidValues = { eax: 0, ebx: 0, ecx: 0, edx: 0 };
      for (const reg of def.same) out[reg] = 0xFFFF_FFFF;
      return out;
    },
  };
}

export const CPUID_CHECKS: CpuidCheck[] = [
  check({
    leaf: "MAX_BASIC",
    subleaves: [0],
    noSubleaf: true,
    exact: { ebx: ascii4("Genu"), edx: ascii4("ineI"), ecx: ascii4("ntel") },
    same: ["ebx", "ecx", "edx"],
  }),
  check({
    leaf: "VERSION_INFO",
    subleaves: [0],
    noSubleaf: true,
    require: [{
      reg: "ecx",
      bitfield: "CPUID_01_ECX",
      fields: ["VMX", "PCID", "X2APIC", "AESNI", "XSAVE", "RDRAND"],
    }],
    same: ["eax", "ecx", "edx"],
  }),
  check({ leaf: "CACHE_PARAMS", subleaves: [0, 1, 2, 3, 4], same: ["eax", "ebx", "ecx", "edx"] }),
  check({
    leaf: "EXT_FEATURES",
    subleaves: [0],
    require: [{
      reg: "ebx",
      bitfield: "CPUID_07_00_EBX",
      fields: ["FSGSBASE", "SMEP", "RDSEED", "SMAP"],
    }],
    same: ["eax", "ebx", "ecx", "edx"],
  }),
  check({ leaf: "XSAVE_STATE", subleaves: [0, 1], same: ["eax", "ecx", "edx"] }),
  check({ leaf: "TSC_CRYSTAL", subleaves: [0], noSubleaf: true, same: ["eax", "ebx", "ecx"] }),
  check({ leaf: "V2_TOPOLOGY", subleaves: [], same: ["eax", "ecx"] }),
  check({ leaf: "ADDRESS_SIZES", subleaves: [0], noSubleaf: true, same: ["eax"] }),
];

export function cpuidLeaf(spec: Spec, name: string): number {
  return Number(spec.enumValue("CPUID_LEAF", name));
}

export function subleafRaw(c: CpuidCheck, subleaf: number): number {
  return c.noSubleaf ? 0xFFFF_FFFF : subleaf;
}

/** The check that covers a leaf number. */
export function checkForLeaf(spec: Spec, leaf: number): CpuidCheck | undefined {
  return CPUID_CHECKS.find((c) => cpuidLeaf(spec, c.leaf) === leaf);
}
