// The td leaf handlers, by the leaf's spec name.
import type { LeafHandler } from "../leaf_context.ts";

export const TD_LEAVES: [string, LeafHandler][] = [];
