// TDG.SERVTD.RD: a service TD reads one metadata element of a TD it is bound to.
import type { LeafHandler } from "../leaf_context.ts";
import { servtdAccess } from "../servtd_access.ts";

export const tdgServtdRd: LeafHandler = (ctx) => servtdAccess(ctx, false);
