// TDG.MEM.PAGE.ATTR.WR: the L1 TD sets, under a mask, the attributes of a private page
// in its L2 VMs' Secure EPTs, creating, changing or removing each VM's alias.
import type { LeafHandler } from "../leaf_context.ts";
import { currentGuest, eptViolationExit } from "../guest_access.ts";
import { catalog } from "../metadata.ts";
import {
  entryAt,
  freeEntry,
  isAliased,
  l2Entry,
  lockEntryGuest,
  septGeometry,
  setEntry,
  setL2Leaf,
  walk,
  withAlias,
} from "../sept.ts";
import { traits } from "../sept_states.ts";
import type { TdState } from "../state.ts";
import {
  attrLegal,
  attrPresent,
  attrValid,
  joinWords,
  l2Attributes,
  MAX_VMS,
  vmWord,
  withValid,
} from "./guest_gpa_attr.ts";
import { gpaAndLevel } from "./guest_gpa_operand.ts";

/** ATTR_FLAGS bit 15 of a VM's word asks for an INVEPT; bits 14:0 are the attribute mask. */
const ATTR_MASK_BITS = 0x7FFFn;
/** The largest level whose attributes the leaf sets: 1 GiB. */
const MAX_ATTR_LEVEL = 2;

/** VM_CTLS[vm] bit 0: a failed L2 Secure EPT walk becomes an EPT-violation TD exit. */
function exitOnL2WalkFailure(ctx: Parameters<LeafHandler>[0], td: TdState, vm: number): boolean {
  const f = catalog(ctx.spec).field("td", "VM_CTLS");
  const id = catalog(ctx.spec).elementId(f, vm * f.elementsPerField);
  return ((td.fields.get(id) ?? 0n) & 1n) === 1n;
}

export const tdgMemPageAttrWr: LeafHandler = (ctx) => {
  // RCX and RDX are outputs too: take the inputs first.
  const rawGpaLevel = ctx.in("gpa_and_level");
  const newAttr = ctx.in("new_attributes");
  const flags = ctx.in("attr_flags");
  ctx.out("gpa_mapping", 0n);
  ctx.out("attributes", 0n);
  const g = currentGuest(ctx);
  const spec = ctx.spec;
  const geo = septGeometry(spec, g.td);
  for (let vm = 0; vm < MAX_VMS; vm++) {
    const a = vmWord(newAttr, vm);
    if (vm === 0 || vm > geo.numL2Vms) {
      if (a !== 0n) return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("new_attributes"));
      if (vmWord(flags, vm) !== 0n) {
        return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("attr_flags"));
      }
    } else if (a !== 0n && !attrValid(spec, a)) {
      return ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("new_attributes"));
    }
  }
  const rcx = ctx.operandOf("gpa_and_level");
  const op = gpaAndLevel(ctx, g.td, rawGpaLevel, MAX_ATTR_LEVEL);
  if (!op) return ctx.status("TDX_OPERAND_INVALID", rcx);
  const violation = (level: number, state: string) =>
    eptViolationExit(ctx, g, { kind: "ept-violation", gpa: op.gpa, shared: false, level, state });
  const w = walk(spec, g.td, geo, op.gpa, op.level);
  if (!w.reached) return violation(w.level, w.entry.state);
  const lock = lockEntryGuest(ctx, g.td, op.gpa, op.level);
  if (lock === "busy") return ctx.status("TDX_OPERAND_BUSY", rcx);
  // The TDCALL dispatcher shows it to the guest as TDX_OPERAND_BUSY (host_priority.ts).
  if (lock === "host-priority") return ctx.status("TDX_OPERAND_BUSY_HOST_PRIORITY", rcx);
  const l1 = entryAt(g.td, op.level, op.gpa);
  const t = traits(l1.state);
  if (!l1.leaf && l1.state !== "FREE") {
    return ctx.status("TDX_PAGE_SIZE_MISMATCH", BigInt(op.level));
  }
  // Only unblocked leaves (mapped or pending, exported-dirty included) take new attributes.
  if (!l1.leaf || t.blocked || t.blockedW) return violation(op.level, l1.state);

  // Per VM: the resulting attributes, checked before anything changes.
  const result = Array.from({ length: MAX_VMS }, () => 0n);
  const create: number[] = [];
  const touched: number[] = [];
  let invalid = false;
  for (let vm = 1; vm <= geo.numL2Vms; vm++) {
    // VALID is never masked out: a VM whose new value lacks it is left alone.
    const mask = (vmWord(flags, vm) & ATTR_MASK_BITS) | withValid(spec, 0n);
    const masked = vmWord(newAttr, vm) & mask;
    if (!attrValid(spec, masked)) continue;
    touched.push(vm);
    if (isAliased(l1, vm)) {
      const cur = l2Attributes(spec, l2Entry(g.td, vm, op.gpa, op.level).attributes, false);
      const next = (cur & ~mask) | masked;
      if (attrPresent(spec, next) && !attrLegal(spec, next)) {
        invalid = true;
        result[vm] = cur;
      } else result[vm] = next;
    } else if (attrPresent(spec, masked)) {
      if (!attrLegal(spec, masked)) {
        invalid = true;
        result[vm] = 0n;
        continue;
      }
      result[vm] = masked;
      const l2 = walk(spec, g.td, geo, op.gpa, op.level, vm);
      if (!l2.reached) {
        if (exitOnL2WalkFailure(ctx, g.td, vm)) return violation(l2.level, l2.entry.state);
        return ctx.status(
          "TDX_L2_SEPT_WALK_FAILED",
          (BigInt(vm) << 16n) | BigInt(l2.level),
        );
      }
      create.push(vm);
    }
  }
  if (invalid) {
    ctx.out("attributes", joinWords(result));
    return ctx.status("TDX_PAGE_ATTR_INVALID");
  }
  let entry = l1;
  for (const vm of touched) {
    if (isAliased(entry, vm)) {
      if (attrPresent(spec, result[vm])) {
        const e = l2Entry(g.td, vm, op.gpa, op.level);
        setEntry(g.td, op.gpa, { ...e, attributes: result[vm] }, vm);
      } else {
        // VALID with no access removes the alias.
        setEntry(g.td, op.gpa, freeEntry(op.level, vm), vm);
        entry = withAlias(entry, vm, false);
        setEntry(g.td, op.gpa, entry);
        result[vm] = withValid(spec, 0n);
      }
    } else if (create.includes(vm)) {
      setL2Leaf(spec, g.td, vm, op.gpa, op.level, result[vm]);
      entry = entryAt(g.td, op.level, op.gpa);
    }
  }
  ctx.outFields("gpa_mapping", {
    LEVEL: BigInt(op.level),
    GPA: op.gpa >> 12n,
    PENDING: t.pending ? 1n : 0n,
  });
  ctx.out("attributes", joinWords(result));
  return ctx.ok();
};
