// Every leaf handler the reference implements, by the leaf's spec name.
import type { LeafHandler } from "../leaf_context.ts";
import { PLATFORM_LEAVES } from "./platform_leaves.ts";
import { TD_LEAVES } from "./td_leaves.ts";
import { MEMORY_LEAVES } from "./memory_leaves.ts";
import { GUEST_LEAVES } from "./guest_leaves.ts";

export const SEAMCALL_HANDLERS: ReadonlyMap<string, LeafHandler> = new Map([
  ...PLATFORM_LEAVES,
  ...TD_LEAVES,
  ...MEMORY_LEAVES,
]);

export const TDCALL_HANDLERS: ReadonlyMap<string, LeafHandler> = new Map(GUEST_LEAVES);
