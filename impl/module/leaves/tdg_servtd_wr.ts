// TDG.SERVTD.WR: a service TD writes one metadata element of a TD it is bound to (a
// Migration TD: the migration decryption key and version).
import type { LeafHandler } from "../leaf_context.ts";
import { servtdAccess } from "../servtd_access.ts";

export const tdgServtdWr: LeafHandler = (ctx) => servtdAccess(ctx, true);
