// TDG.SYS.RD: reads a guest-readable global metadata element and returns the next
// readable element's id.
import type { LeafHandler } from "../leaf_context.ts";
import { guestMetadataRead } from "./guest_metadata.ts";

export const tdgSysRd: LeafHandler = (ctx) =>
  guestMetadataRead(ctx, {
    scope: "global",
    returnsNext: true,
  });
