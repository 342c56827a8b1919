// TDH.SYS.TDMR.INIT: initialises the next chunk of one TDMR's PAMT (reserved pages
// become PT_RSVD, the rest PT_NDA) and returns, rounded down to 1 GiB, how far the TDMR
// is usable. The host calls it until the TDMR's end is reached.
import type { LeafHandler } from "../leaf_context.ts";
import { platformLimit } from "../platform_limits.ts";
import { lockKey } from "../locks.ts";

const GiB = 1n << 30n;
const PAGE = 4096n;

export const tdhSysTdmrInit: LeafHandler = (ctx) => {
  ctx.out("next_to_initialize", 0n);
  const base = ctx.in("tdmr_base");
  const operand = ctx.operandOf("tdmr_base");
  const p = ctx.state.platform;
  const maxPa = p.sampled?.maxPa ?? ctx.cpu.memory.maxPa;
  const hkidStart = p.sampled?.hkidStartBit ?? ctx.cpu.memory.keyIdShift;
  if (base % GiB !== 0n || base >> BigInt(maxPa) !== 0n || base >> BigInt(hkidStart) !== 0n) {
    return ctx.status("TDX_OPERAND_INVALID", operand);
  }
  const tdmr = p.tdmrs.find((t) => t.base === base);
  if (!tdmr) return ctx.status("TDX_OPERAND_INVALID", operand);
  const busy = ctx.lock(lockKey.tdmr(base), "exclusive", operand);
  if (busy) return busy;
  if (tdmr.initialized >= tdmr.size) return ctx.status("TDX_TDMR_ALREADY_INITIALIZED");
  const chunk = platformLimit(ctx.spec, "TDMR_INIT_4K_ENTRIES_PER_CALL") * PAGE;
  const from = tdmr.base + tdmr.initialized;
  const to = from + chunk < tdmr.base + tdmr.size ? from + chunk : tdmr.base + tdmr.size;
  for (const r of tdmr.reserved) {
    const start = tdmr.base + r.offset;
    const end = start + r.size;
    for (let pa = start > from ? start : from; pa < end && pa < to; pa += PAGE) {
      ctx.state.pamt.set(pa, { pageType: "PT_RSVD", level: 0 });
    }
  }
  tdmr.initialized = to - tdmr.base;
  ctx.out("next_to_initialize", to & ~(GiB - 1n));
  return ctx.ok();
};
