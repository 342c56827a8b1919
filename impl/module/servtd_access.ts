// The common body of TDG.SERVTD.RD and TDG.SERVTD.WR: a service TD's guest reads or
// writes one TD-scope metadata element of a target TD it is bound to, with the fields'
// service-TD masks. In the module's order: the slot the handle names; the target's TDR
// and TD state (busy locks are returned to the guest, any other failure is a cross-TD
// trap); the target UUID the guest gives (the pre-import UUID gets the current one
// back); the binding (BOUND, to this instance, with this TDINFO hash - else a trap);
// then the field. A cross-TD trap completes the TDCALL with the failure as its status
// and exits to the host with TDX_CROSS_TD_TRAP, the failure in RDX and the target TDR in R8.
import type { Completion } from "./completion.ts";
import type { LeafContext } from "./leaf_context.ts";
import { currentGuest, type GuestCaller } from "./guest_access.ts";
import { lockRtmrGuest } from "./rtmr_lock.ts";
import { checkAndLockHpa } from "./hpa_checks.ts";
import {
  catalog,
  checkSingleElementId,
  elementValue,
  FIELD_ID_NA,
  isNullFieldId,
  type MdAccess,
  type MdContext,
  mdNextElementId,
  mdRead,
  mdWrite,
  withContext,
} from "./metadata.ts";
import {
  breakBindingHandle,
  checkOtherTdState,
  isMigTd,
  servtdBindingsLock,
  servtdInfoHash,
  setMigEncKey,
  uuidWord,
} from "./servtd.ts";
import { maxServtds, servtdOf } from "./servtd_state.ts";
import type { TdState } from "./state.ts";
import { randomBytes } from "./td_random.ts";

const SERVTD: MdAccess = { who: "servtd" };

const isBusy = (c: Completion) => c.name === "TDX_OPERAND_BUSY";

/** Ends the TDCALL with `status` and a trap-like TD exit reporting it to the host. */
function crossTdTrap(ctx: LeafContext, g: GuestCaller, status: Completion, tdr: bigint) {
  const reason = ctx.spec.enum("VMX_EXIT_REASON").values.find((v) => BigInt(v.value) === 0n)!;
  g.vcpu.pendingExit = {
    kind: "async",
    status: "TDX_CROSS_TD_TRAP",
    reason: reason.name,
    extQualification: status.status,
    gpa: tdr,
    regs: ctx.regs,
  };
  ctx.cpu.requestTdExit(ctx.lp);
  return status;
}

/** The target's 4 UUID words equal R10..R13. */
function uuidMatches(words: bigint[], uuid: (i: number) => bigint): boolean {
  return words.every((w, i) => w === uuid(i));
}

function preImportUuid(c: MdContext, td: TdState, i: number): bigint {
  const cat = catalog(c.spec);
  const v = elementValue({ ...c, td }, cat.element(cat.field("td", "PRE_IMPORT_UUID"), i));
  return typeof v === "bigint" ? v : 0n;
}

export function servtdAccess(ctx: LeafContext, write: boolean): Completion {
  const g = currentGuest(ctx);
  const uuidIn = [0, 1, 2, 3].map((i) => ctx.in(`target_uuid_${i}`));
  // RDX is the field id (and, for reads, the next id): read every input first.
  const rawId = ctx.in("field_id");
  const data = write ? ctx.in("data") : 0n;
  const mask = write ? ctx.in("write_mask") : 0n;
  if (!write) ctx.out("next_field_id", FIELD_ID_NA);
  ctx.out(write ? "old_value" : "value", 0n);

  const { tdr, slot } = breakBindingHandle(ctx.spec, ctx.in("binding_handle"), g.td.uuid);
  if (slot >= BigInt(maxServtds(ctx.spec))) {
    return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("binding_handle"));
  }
  const trap = (c: Completion) => (isBusy(c) ? c : crossTdTrap(ctx, g, c, tdr));
  const page = checkAndLockHpa(ctx, tdr, "TDR", { expectedType: "PT_TDR", lock: "shared" });
  if (page.fail) return trap(page.fail);
  const target = ctx.state.tds.get(tdr);
  if (!target) throw new Error(`PAMT says PT_TDR at 0x${tdr.toString(16)} but no TD is recorded`);
  const bad = checkOtherTdState(ctx, target);
  if (bad) return trap(bad);

  const c: MdContext = {
    spec: ctx.spec,
    cpu: ctx.cpu,
    state: ctx.state,
    td: target,
    lock: (resource) => ctx.lock(resource, "exclusive", "METADATA_FIELD") === undefined,
  };
  if (!uuidMatches(uuidIn, (i) => uuidWord(target.uuid, i))) {
    if (!uuidMatches(uuidIn, (i) => preImportUuid(c, target, i))) {
      return ctx.status("TDX_TARGET_UUID_MISMATCH");
    }
    // Bound before the target was imported: the guest learns the imported TD's UUID.
    for (let i = 0; i < 4; i++) {
      ctx.regs[(["R10", "R11", "R12", "R13"] as const)[i]] = uuidWord(target.uuid, i);
    }
    return ctx.status("TDX_TARGET_UUID_UPDATED");
  }
  const busy = ctx.lock(servtdBindingsLock(target.tdr), "shared", "SERVTD_BINDINGS");
  if (busy) return busy;
  const b = servtdOf(ctx.spec, target).bindings[Number(slot)];
  if (b.state !== "SERVTD_BOUND") {
    return crossTdTrap(ctx, g, ctx.status("TDX_SERVTD_NOT_BOUND", slot), tdr);
  }
  const own = g.td.uuid ?? new Uint8Array(32);
  if (!b.uuid.every((x, i) => x === own[i])) {
    return crossTdTrap(ctx, g, ctx.status("TDX_SERVTD_UUID_MISMATCH"), tdr);
  }
  const rtmrBusy = lockRtmrGuest(ctx, g.td, "shared");
  if (rtmrBusy) return rtmrBusy;
  const hash = servtdInfoHash(ctx.spec, g.td, b.attributes);
  if (!b.infoHash.every((x, i) => x === hash[i])) {
    return crossTdTrap(ctx, g, ctx.status("TDX_SERVTD_INFO_HASH_MISMATCH"), tdr);
  }

  // The binding holds: the element of the target TD, with the service TD's masks.
  const id = withContext(ctx.spec, rawId, "td");
  if (!write && isNullFieldId(ctx.spec, id)) {
    ctx.out("next_field_id", mdNextElementId(c, "td", FIELD_ID_NA, SERVTD));
    return ctx.status("TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT");
  }
  const badId = checkSingleElementId(ctx.spec, id);
  if (badId) return ctx.status(badId);
  if (write) {
    const r = mdWrite(c, "td", id, data, mask, SERVTD);
    if (r.status !== "TDX_SUCCESS") return ctx.status(r.status, r.detail);
    ctx.out("old_value", r.old!);
    return ctx.ok();
  }
  const el = catalog(ctx.spec).find("td", id);
  if (el?.field.item.name === "MIG_ENC_KEY" && el.flat === 0 && isMigTd(ctx.spec, b.type)) {
    // Each Migration TD read of the key's first element draws a new key.
    const key = randomBytes(ctx.cpu, 32);
    if (!key) return ctx.status("TDX_RND_NO_ENTROPY");
    setMigEncKey(ctx.spec, target, key);
  }
  const r = mdRead(c, "td", id, SERVTD);
  if (r.status !== "TDX_SUCCESS") return ctx.status(r.status, r.detail);
  ctx.out("value", r.value!);
  ctx.out("next_field_id", mdNextElementId(c, "td", id, SERVTD));
  return ctx.ok();
}
