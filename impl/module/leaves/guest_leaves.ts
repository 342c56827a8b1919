// The guest leaf handlers, by the leaf's spec name.
import type { LeafHandler } from "../leaf_context.ts";

export const GUEST_LEAVES: [string, LeafHandler][] = [];
