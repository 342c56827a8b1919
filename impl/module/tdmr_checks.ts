// TDH.SYS.CONFIG's checks of one TDMR_INFO entry against the ones before it and the CMRs,
// in the module's order: the TDMR range and its ordering, its reserved areas, its PAMT
// areas (size, overlap with other PAMTs and with usable TDMR memory, inside CMRs), and
// finally that its usable memory is convertible. Details carry the TDMR index (bits 7:0)
// and the reserved-area index or PAMT level (bits 15:8), and for overlaps the other
// TDMR's index (bits 23:16).
import type { Spec } from "../spec/mod.ts";
import type { MemoryRange } from "../cpu/cpu.ts";
import type { PlatformFault } from "./platform_sample.ts";
import { multiInfo } from "./platform_sample.ts";
import { platformLimitN } from "./platform_limits.ts";

export interface TdmrEntry {
  base: bigint;
  size: bigint;
  pamt1gBase: bigint;
  pamt1gSize: bigint;
  pamt2mBase: bigint;
  pamt2mSize: bigint;
  pamt4kBase: bigint;
  pamt4kSize: bigint;
  reserved: { offset: bigint; size: bigint }[];
}

export interface TdmrCheckEnv {
  spec: Spec;
  maxPa: number;
  hkidStartBit: number;
  cmrs: MemoryRange[];
}

const U64_END = 1n << 64n;
const KiB4 = 1n << 12n;
const MiB2 = 1n << 21n;
const GiB1 = 1n << 30n;
/** PAMT levels as the details number them (PT_4KB, PT_2MB, PT_1GB). */
const LEVEL = { "4k": 0, "2m": 1, "1g": 2 } as const;
type Level = keyof typeof LEVEL;

function pamtOf(t: TdmrEntry, level: Level): MemoryRange {
  switch (level) {
    case "1g":
      return { base: t.pamt1gBase, size: t.pamt1gSize };
    case "2m":
      return { base: t.pamt2mBase, size: t.pamt2mSize };
    default:
      return { base: t.pamt4kBase, size: t.pamt4kSize };
  }
}

function overlaps(a: MemoryRange, b: MemoryRange): boolean {
  return a.size > 0n && b.size > 0n && a.base < b.base + b.size && b.base < a.base + a.size;
}

function belowMaxPaNoHkid(env: TdmrCheckEnv, pa: bigint): boolean {
  return pa < 1n << BigInt(env.maxPa) && (pa >> BigInt(env.hkidStartBit)) === 0n;
}

/** The parts of a TDMR not covered by its reserved areas (reserved areas already checked). */
export function availableAreas(t: TdmrEntry): MemoryRange[] {
  const out: MemoryRange[] = [];
  let at = t.base;
  const end = t.base + t.size;
  for (const r of t.reserved) {
    if (r.size === 0n) break;
    const start = t.base + r.offset;
    if (start > at) out.push({ base: at, size: start - at });
    at = start + r.size;
  }
  if (at < end) out.push({ base: at, size: end - at });
  return out;
}

/** Whether [start, end) lies in one CMR, CMRs that touch counting as one range. */
export function inCmrs(cmrs: MemoryRange[], area: MemoryRange): boolean {
  let runStart = 0n;
  let runEnd = 0n;
  for (const c of cmrs) {
    if (c.size === 0n) continue;
    let start = c.base;
    const end = c.base + c.size;
    if (start === runEnd) start = runStart;
    if (area.base >= start && area.base + area.size <= end) return true;
    runStart = start;
    runEnd = end;
  }
  return false;
}

function checkTdmrRange(env: TdmrCheckEnv, t: TdmrEntry, i: number): PlatformFault | undefined {
  const bad = { status: "TDX_INVALID_TDMR", detail: multiInfo(i) };
  if (t.base % GiB1 !== 0n || t.size % GiB1 !== 0n || t.size === 0n) return bad;
  if (!belowMaxPaNoHkid(env, t.base)) return bad;
  if (!belowMaxPaNoHkid(env, t.base + t.size - 1n)) return bad;
  return undefined;
}

function checkReserved(t: TdmrEntry, i: number): PlatformFault | undefined {
  const n = t.reserved.length;
  for (let j = 0; j < n; j++) {
    const { offset, size } = t.reserved[j];
    const nonOrdered = { status: "TDX_NON_ORDERED_RESERVED_IN_TDMR", detail: multiInfo(i, j) };
    const invalid = { status: "TDX_INVALID_RESERVED_IN_TDMR", detail: multiInfo(i, j) };
    if (size === 0n) {
      if (j < n - 1 && t.reserved[j + 1].size !== 0n) return nonOrdered;
      continue;
    }
    if (offset + size >= U64_END) return invalid;
    if (j > 0) {
      const prev = t.reserved[j - 1];
      if (offset < prev.offset || offset < prev.offset + prev.size) return nonOrdered;
    }
    if (offset % KiB4 !== 0n || size % KiB4 !== 0n) return invalid;
    const start = t.base + offset;
    if (start >= U64_END || start + size >= U64_END) return invalid;
    if (start < t.base || start + size > t.base + t.size) return invalid;
  }
  return undefined;
}

function pamtAreaValid(
  env: TdmrCheckEnv,
  area: MemoryRange,
  granule: bigint,
  tdmrSize: bigint,
): boolean {
  const entry = BigInt(platformLimitN(env.spec, "PAMT_ENTRY_SIZE"));
  if (area.base + area.size >= U64_END) return false;
  if (area.base % KiB4 !== 0n || area.size % KiB4 !== 0n) return false;
  if (!belowMaxPaNoHkid(env, area.base)) return false;
  if (!belowMaxPaNoHkid(env, area.base + area.size - 1n)) return false;
  return area.size >= (tdmrSize / granule) * entry;
}

function checkPamts(
  env: TdmrCheckEnv,
  tdmrs: TdmrEntry[],
  i: number,
): PlatformFault | undefined {
  const t = tdmrs[i];
  const granules: [Level, bigint][] = [["1g", GiB1], ["2m", MiB2], ["4k", KiB4]];
  for (const [level, granule] of granules) {
    if (!pamtAreaValid(env, pamtOf(t, level), granule, t.size)) {
      return { status: "TDX_INVALID_PAMT", detail: multiInfo(i, LEVEL[level]) };
    }
  }
  const overlap = (a: number, level: Level, b: number) => ({
    status: "TDX_PAMT_OVERLAP",
    detail: multiInfo(a, LEVEL[level], b),
  });
  const levels: Level[] = ["4k", "2m", "1g"];
  // PAMTs against the PAMTs of earlier TDMRs, then against each other.
  for (let j = 0; j < i; j++) {
    for (const level of levels) {
      if (levels.some((l) => overlaps(pamtOf(t, level), pamtOf(tdmrs[j], l)))) {
        return overlap(i, level, j);
      }
    }
  }
  if (overlaps(pamtOf(t, "4k"), pamtOf(t, "2m"))) return overlap(i, "4k", i);
  if (overlaps(pamtOf(t, "4k"), pamtOf(t, "1g"))) return overlap(i, "4k", i);
  if (overlaps(pamtOf(t, "2m"), pamtOf(t, "1g"))) return overlap(i, "2m", i);
  // PAMTs may sit only in reserved parts of TDMRs (this one's and earlier ones').
  for (let j = 0; j <= i; j++) {
    const usable = availableAreas(tdmrs[j]);
    for (const level of levels) {
      if (usable.some((a) => overlaps(a, pamtOf(t, level)))) return overlap(i, level, j);
    }
    if (j < i) {
      const mine = availableAreas(t);
      for (const level of levels) {
        if (mine.some((a) => overlaps(a, pamtOf(tdmrs[j], level)))) return overlap(j, level, i);
      }
    }
  }
  for (const level of ["1g", "2m", "4k"] as Level[]) {
    if (!inCmrs(env.cmrs, pamtOf(t, level))) {
      return { status: "TDX_PAMT_OUTSIDE_CMRS", detail: multiInfo(i, LEVEL[level]) };
    }
  }
  return undefined;
}

/** Checks TDMR `i` of `tdmrs` (entries before it already passed). */
export function checkTdmr(env: TdmrCheckEnv, tdmrs: TdmrEntry[], i: number) {
  const t = tdmrs[i];
  if (t.base + t.size >= U64_END) return { status: "TDX_INVALID_TDMR", detail: multiInfo(i) };
  if (i > 0) {
    const prev = tdmrs[i - 1];
    if (t.base < prev.base || t.base < prev.base + prev.size) {
      return { status: "TDX_NON_ORDERED_TDMR", detail: multiInfo(i) };
    }
  }
  const fault = checkTdmrRange(env, t, i) ?? checkReserved(t, i) ?? checkPamts(env, tdmrs, i);
  if (fault) return fault;
  if (availableAreas(t).some((a) => !inCmrs(env.cmrs, a))) {
    return { status: "TDX_TDMR_OUTSIDE_CMRS", detail: multiInfo(i) };
  }
  return undefined;
}
