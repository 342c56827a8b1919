// The memory leaf handlers, by the leaf's spec name.
import type { LeafHandler } from "../leaf_context.ts";
import { tdhMemPageAdd } from "./tdh_mem_page_add.ts";
import { tdhMemPageAug } from "./tdh_mem_page_aug.ts";
import { tdhMemPageDemote } from "./tdh_mem_page_demote.ts";
import { tdhMemPagePromote } from "./tdh_mem_page_promote.ts";
import { tdhMemPageRelocate } from "./tdh_mem_page_relocate.ts";
import { tdhMemPageRemove } from "./tdh_mem_page_remove.ts";
import { tdhMemRangeBlock } from "./tdh_mem_range_block.ts";
import { tdhMemRangeUnblock } from "./tdh_mem_range_unblock.ts";
import { tdhMemRd } from "./tdh_mem_rd.ts";
import { tdhMemSeptAdd } from "./tdh_mem_sept_add.ts";
import { tdhMemSeptRd } from "./tdh_mem_sept_rd.ts";
import { tdhMemSeptRemove } from "./tdh_mem_sept_remove.ts";
import { tdhMemTrack } from "./tdh_mem_track.ts";
import { tdhMemWr } from "./tdh_mem_wr.ts";

export const MEMORY_LEAVES: [string, LeafHandler][] = [
  ["TDH.MEM.PAGE.ADD", tdhMemPageAdd],
  ["TDH.MEM.PAGE.AUG", tdhMemPageAug],
  ["TDH.MEM.PAGE.DEMOTE", tdhMemPageDemote],
  ["TDH.MEM.PAGE.PROMOTE", tdhMemPagePromote],
  ["TDH.MEM.PAGE.RELOCATE", tdhMemPageRelocate],
  ["TDH.MEM.PAGE.REMOVE", tdhMemPageRemove],
  ["TDH.MEM.RANGE.BLOCK", tdhMemRangeBlock],
  ["TDH.MEM.RANGE.UNBLOCK", tdhMemRangeUnblock],
  ["TDH.MEM.RD", tdhMemRd],
  ["TDH.MEM.SEPT.ADD", tdhMemSeptAdd],
  ["TDH.MEM.SEPT.RD", tdhMemSeptRd],
  ["TDH.MEM.SEPT.REMOVE", tdhMemSeptRemove],
  ["TDH.MEM.TRACK", tdhMemTrack],
  ["TDH.MEM.WR", tdhMemWr],
];
