// What a TDCALL handler needs beyond its registers: the calling TD and vCPU, the
// metadata context for them, and guest memory by GPA. A private GPA goes through the
// TD's Secure EPT and is accessed with the TD's private KeyID; a GPA with the shared
// bit (bit GPAW-1) goes through the host's shared EPT and is accessed with KeyID 0.
//
// A GPA that does not translate does not give a status: the module either injects a
// #VE (a PENDING private page, unless the TD disabled #VE on pending access) or makes
// an EPT-violation TD exit. Either way the TDCALL does not complete: RAX keeps the
// leaf number, and the guest runs the TDCALL again once the fault is resolved.
import { decodeBits } from "../spec/bits.ts";
import type { Completion } from "./completion.ts";
import type { LeafContext } from "./leaf_context.ts";
import { catalog, type MdContext } from "./metadata.ts";
import { septGeometry, translateGpa } from "./sept.ts";
import { traits } from "./sept_states.ts";
import type { PendingEptViolation, TdState, VcpuState } from "./state.ts";

export interface GuestCaller {
  td: TdState;
  vcpu: VcpuState;
}

/** The TD and vCPU running on the TDCALL's logical processor. */
export function currentGuest(ctx: LeafContext): GuestCaller {
  const tdvpr = ctx.state.lpCurrentVcpu.get(ctx.lp.id);
  const vcpu = tdvpr === undefined ? undefined : ctx.state.vcpus.get(tdvpr);
  const td = vcpu ? ctx.state.tds.get(vcpu.tdr) : undefined;
  if (!vcpu || !td) throw new Error(`TDCALL on LP ${ctx.lp.id} with no TD vCPU running`);
  return { td, vcpu };
}

/** Metadata context of the caller; element updates take the element's lock. */
export function guestMdContext(ctx: LeafContext, g: GuestCaller): MdContext {
  return {
    spec: ctx.spec,
    cpu: ctx.cpu,
    state: ctx.state,
    td: g.td,
    vcpu: g.vcpu,
    lock: (resource) => ctx.lock(resource, "exclusive", "METADATA_FIELD") === undefined,
  };
}

/** The TDCALL ends without completing: RAX is left as the guest set it (the leaf). */
export function noCompletion(ctx: LeafContext): Completion {
  return { status: ctx.regs.RAX, name: "TDCALL_NOT_COMPLETED" };
}

/** Ends the TDCALL with an EPT-violation TD exit to the host. */
export function eptViolationExit(
  ctx: LeafContext,
  g: GuestCaller,
  violation: PendingEptViolation,
): Completion {
  g.vcpu.pendingExit = violation;
  ctx.cpu.requestTdExit(ctx.lp);
  return noCompletion(ctx);
}

/** The GPA's shared bit for this TD (bit 47 or 51 by GPAW). */
export function sharedBit(ctx: LeafContext, td: TdState): bigint {
  return septGeometry(ctx.spec, td).sharedBit;
}

/** Bits above the TD's GPA width (the shared bit excluded) are set. */
export function aboveGpaw(ctx: LeafContext, td: TdState, gpa: bigint): boolean {
  const g = septGeometry(ctx.spec, td);
  return (gpa >> BigInt(g.gpaw)) !== 0n;
}

export type GuestPa =
  | { ok: true; pa: bigint }
  | { ok: false; fault: "ve" | "ept-violation"; violation: PendingEptViolation };

function pendingVeDisabled(ctx: LeafContext, td: TdState): boolean {
  const attrs = decodeBits(ctx.spec.bitfield("TD_ATTRIBUTES").fields, td.attributes).fields;
  if (attrs.SEPT_VE_DISABLE === 1n) return true;
  const ctlsId = catalog(ctx.spec).field("td", "TD_CTLS").baseId;
  const ctls = decodeBits(ctx.spec.bitfield("TD_CTLS").fields, td.fields.get(ctlsId) ?? 0n).fields;
  return ctls.PENDING_VE_DISABLE === 1n;
}

/** The physical address (with KeyID) a GPA of the TD reaches, or the fault it causes. */
export function guestPhysical(ctx: LeafContext, td: TdState, gpa: bigint): GuestPa {
  const shared = sharedBit(ctx, td);
  if ((gpa & shared) !== 0n) {
    const plain = gpa & ~shared;
    let hpa = plain;
    if (td.sharedEpt) {
      const page = td.sharedEpt.get(plain & ~0xFFFn);
      if (page === undefined) {
        return {
          ok: false,
          fault: "ept-violation",
          violation: { kind: "ept-violation", gpa, shared: true, level: 0 },
        };
      }
      hpa = page + (plain & 0xFFFn);
    }
    return { ok: true, pa: ctx.cpu.memory.withKeyId(hpa, 0) };
  }
  const t = translateGpa(ctx.spec, td, gpa);
  if (t.ok) return { ok: true, pa: ctx.cpu.memory.withKeyId(t.hpa, td.hkid) };
  const violation: PendingEptViolation = {
    kind: "ept-violation",
    gpa,
    shared: false,
    level: t.level,
    state: t.state,
  };
  const ve = t.entry.leaf && traits(t.state).pending && !pendingVeDisabled(ctx, td);
  return { ok: false, fault: ve ? "ve" : "ept-violation", violation };
}

/** Delivers the fault of a failed translation: a #VE into the TD or a TD exit. */
export function guestFault(
  ctx: LeafContext,
  g: GuestCaller,
  r: Extract<GuestPa, { ok: false }>,
): Completion {
  if (r.fault === "ve" && !g.vcpu.veInfo?.valid) {
    g.vcpu.veInfo = {
      valid: true,
      exitReason: ctx.spec.enumValue("VMX_EXIT_REASON", "EPT_VIOLATION"),
      qualification: 0n,
      gla: 0n,
      gpa: r.violation.gpa,
    };
    return noCompletion(ctx);
  }
  return eptViolationExit(ctx, g, r.violation);
}

/** Reads guest memory at a GPA (the range must not cross a 4 KiB page). */
export function readGuest(
  ctx: LeafContext,
  g: GuestCaller,
  gpa: bigint,
  length: number,
): { ok: true; bytes: Uint8Array } | { ok: false; done: Completion } {
  const r = guestPhysical(ctx, g.td, gpa);
  if (!r.ok) return { ok: false, done: guestFault(ctx, g, r) };
  return { ok: true, bytes: ctx.cpu.memory.read(r.pa, length) };
}

/** Translates a GPA for a later write; the caller writes with `writeGuestAt`. */
export function mapGuest(
  ctx: LeafContext,
  g: GuestCaller,
  gpa: bigint,
): { ok: true; pa: bigint } | { ok: false; done: Completion } {
  const r = guestPhysical(ctx, g.td, gpa);
  if (!r.ok) return { ok: false, done: guestFault(ctx, g, r) };
  return r;
}
