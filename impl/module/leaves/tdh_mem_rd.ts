// TDH.MEM.RD: read one 8-byte word of a debug TD's private memory.
import type { LeafHandler } from "../leaf_context.ts";
import { debugMemoryAccess } from "../td_debug_access.ts";

export const tdhMemRd: LeafHandler = (ctx) => debugMemoryAccess(ctx, false);
