// The operand checks the migration leaves share, each failing with the status the
// module gives it: the MBMD buffer (size, then a 128-byte aligned shared address), the
// stream index and command, and the page list.
import type { Completion } from "../completion.ts";
import type { LeafContext } from "../leaf_context.ts";
import { sharedBufferInvalid } from "../platform_helpers.ts";
import { migLimit } from "./limits.ts";

/** MBMD_HPA_AND_SIZE: the buffer's address, or the failure (operand of `input`). */
export function mbmdBuffer(
  ctx: LeafContext,
  input = "mbmd_hpa_and_size",
): { fail: Completion; pa?: undefined } | { fail?: undefined; pa: bigint } {
  const f = ctx.inFields(input);
  const invalid = () => ({ fail: ctx.status("TDX_OPERAND_INVALID", ctx.operandOf(input)) });
  if (f.size < migLimit(ctx.spec, "MBMD_SIZE")) return invalid();
  const size = migLimit(ctx.spec, "MBMD_SIZE");
  if (sharedBufferInvalid(ctx, f.hpa, migLimit(ctx.spec, "MBMD_ALIGN"), size)) return invalid();
  return { pa: f.hpa };
}

export interface MigsIndexAndCmd {
  index: number;
  reservedSet: boolean;
  resume: boolean;
}

export function migsIndexAndCmd(ctx: LeafContext, input = "migs_index_and_cmd"): MigsIndexAndCmd {
  const f = ctx.inFields(input);
  return {
    index: Number(f.migs_index),
    reservedSet: f.reserved_62_16 !== 0n,
    resume: f.command === migLimit(ctx.spec, "MIGS_COMMAND_RESUME"),
  };
}

export interface PageListInfo {
  pa: bigint;
  lastEntry: number;
  reservedSet: boolean;
}

export function pageListInfo(ctx: LeafContext, input = "page_list_info"): PageListInfo {
  const f = ctx.inFields(input);
  return {
    pa: f.hpa << 12n,
    lastEntry: Number(f.last_entry),
    reservedSet: f.reserved_11_0 !== 0n || f.reserved_54_52 !== 0n,
  };
}

/** A 4 KiB shared page address (a page list, or an entry of one). */
export function sharedPageInvalid(ctx: LeafContext, pa: bigint): boolean {
  return sharedBufferInvalid(ctx, pa, 4096n, 4096n);
}
