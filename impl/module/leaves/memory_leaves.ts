// The memory leaf handlers, by the leaf's spec name.
import type { LeafHandler } from "../leaf_context.ts";

export const MEMORY_LEAVES: [string, LeafHandler][] = [];
