// TDH.MEM.WR: write one 8-byte word of a debug TD's private memory, returning the old one.
import type { LeafHandler } from "../leaf_context.ts";
import { debugMemoryAccess } from "../td_debug_access.ts";

export const tdhMemWr: LeafHandler = (ctx) => debugMemoryAccess(ctx, true);
