// The CPUID bits the module fixes for TDs (spec enum TD_CPUID_FIXED): per TD_CPUID_LOOKUP
// entry, bits a TD always sees as 1 (FIXED1) and bits it sees as 0 or that the module fills
// in at run time (FIXED0_OR_DYNAMIC). The module applies them to its platform CPUID values
// once TDH.SYS.CONFIG or TDH.SYS.UPDATE completes (platform_sample.ts), and again to the
// configurable entries at TDH.MNG.INIT (td_params.ts).
import type { Spec } from "../spec/mod.ts";
import type { CpuidValues } from "../cpu/cpuid.ts";
import { parseHex } from "../spec/hex.ts";
import { leafSubleafValue } from "./td_params.ts";

const REGS = ["eax", "ebx", "ecx", "edx"] as const;

export interface CpuidFixed {
  fixed1: CpuidValues;
  fixed0OrDynamic: CpuidValues;
}

const cache = new WeakMap<Spec, Map<bigint, CpuidFixed>>();

/** The masks of every TD_CPUID_LOOKUP entry; a register not listed has none. */
function table(spec: Spec): Map<bigint, CpuidFixed> {
  const hit = cache.get(spec);
  if (hit) return hit;
  const masks = new Map(
    spec.enum("TD_CPUID_FIXED").values.map((v) => [v.name, Number(parseHex(v.value))]),
  );
  const out = new Map<bigint, CpuidFixed>();
  for (const e of spec.enum("TD_CPUID_LOOKUP").values) {
    const regs = (kind: string) =>
      Object.fromEntries(
        REGS.map((r) => [r, masks.get(`${e.name}.${kind}.${r.toUpperCase()}`) ?? 0]),
      ) as unknown as CpuidValues;
    out.set(parseHex(e.value), {
      fixed1: regs("FIXED1"),
      fixed0OrDynamic: regs("FIXED0_OR_DYNAMIC"),
    });
  }
  cache.set(spec, out);
  return out;
}

/** The masks of one lookup entry (`subleaf` 0xFFFFFFFF: none); undefined if not virtualised. */
export function cpuidFixed(spec: Spec, leaf: number, subleaf: number): CpuidFixed | undefined {
  return table(spec).get(leafSubleafValue(spec, leaf, subleaf));
}

/** `v` with FIXED0_OR_DYNAMIC bits cleared and FIXED1 bits set. */
export function applyCpuidFixed(v: CpuidValues, f: CpuidFixed): CpuidValues {
  const out = { ...v };
  for (const r of REGS) out[r] = ((v[r] & ~f.fixed0OrDynamic[r]) | f.fixed1[r]) >>> 0;
  return out;
}
