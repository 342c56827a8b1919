// The platform leaf handlers, by the leaf's spec name.
import type { LeafHandler } from "../leaf_context.ts";

export const PLATFORM_LEAVES: [string, LeafHandler][] = [];
