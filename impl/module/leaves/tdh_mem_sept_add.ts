// TDH.MEM.SEPT.ADD: link a new Secure EPT page below an entry at levels 1..EPT_PWL;
// version 1 also adds the matching L2 Secure EPT pages of the TD's L2 VMs and may be
// told to skip an L1 page that already exists (R8 = NULL_PA or ALLOW_EXISTING).
import type { LeafHandler } from "../leaf_context.ts";
import type { LeafContext } from "../leaf_context.ts";
import { checkAndLockHpa } from "../hpa_checks.ts";
import { entryAt, NULL_PA, septGeometry, setEntry, walk, withAlias } from "../sept.ts";
import {
  addChildren,
  checkAndWalk,
  clearEntryOutputs,
  gpaAndLevel,
  hostInterruptPending,
  isDebugTd,
  lockWalkedEntry,
  openTd,
  reportEntry,
} from "../sept_steps.ts";
import type { TdState } from "../state.ts";

const BIT63 = 1n << 63n;
const L2_PAGE_INPUTS = ["l2_sept_page_pa_vm1", "l2_sept_page_pa_vm2", "l2_sept_page_pa_vm3"];

/** init_new_sept_page: filled under the TD's key, PT_EPT owned by the TD. */
export function initSeptPage(ctx: LeafContext, td: TdState, pa: bigint): void {
  const mem = ctx.cpu.memory;
  mem.zeroPage(mem.withKeyId(pa, td.hkid));
  ctx.state.pamt.set(pa, { pageType: "PT_EPT", owner: td.tdr, level: 0, bepoch: 0n });
  addChildren(td, 1);
}

export const tdhMemSeptAdd: LeafHandler = (ctx) => {
  const v1 = ctx.version > 0;
  const rcxIn = ctx.in("gpa_and_level");
  const rdxIn = ctx.in("tdr_and_flags");
  // Bit 63 of a page address is ignored unless the whole value is NULL_PA.
  const given = [ctx.in("sept_page_pa"), ...L2_PAGE_INPUTS.map((n) => v1 ? ctx.in(n) : 0n)];
  const pages = given.map((p) => p === NULL_PA ? p : p & ~BIT63);
  const flagged = [...pages];
  const handle = ctx.inFields("tdr_and_flags");
  clearEntryOutputs(ctx);

  const finish = (c: ReturnType<LeafHandler>) => {
    if (v1) {
      ctx.out("sept_page_pa", flagged[0]);
      L2_PAGE_INPUTS.forEach((n, i) => ctx.out(n, flagged[i + 1]));
    }
    return c;
  };

  if (handle.reserved_11_1 !== 0n || handle.reserved_63_52 !== 0n) {
    return finish(ctx.status("TDX_OPERAND_INVALID", "RDX"));
  }
  const allowExisting = handle.flag === 1n;
  const opened = openTd(ctx, handle.tdr_hpa << 12n, "RDX", "shared", "shared");
  if (opened.fail) return finish(opened.fail);
  const td = opened.value;
  const g = septGeometry(ctx.spec, td);

  const op = gpaAndLevel(ctx, rcxIn, 1, g.maxLevel);
  if (op.fail) return finish(op.fail);
  const { gpa, level } = op.value;
  const walked = checkAndWalk(ctx, td, g, gpa, level, "shared");
  if (walked.fail) return finish(walked.fail);
  const locked = lockWalkedEntry(ctx, td, gpa, walked.value);
  if (locked.fail) return finish(locked.fail);
  const entry = locked.value;
  const stateIncorrect = () => {
    reportEntry(ctx, entry, level);
    return finish(ctx.status("TDX_EPT_ENTRY_STATE_INCORRECT", "RCX"));
  };
  if (entry.state !== "FREE" && entry.state !== "NL_MAPPED") return stateIncorrect();

  // The L1 page: add one below a FREE entry, or make sure one exists.
  if (pages[0] === NULL_PA) {
    if (!v1) return finish(ctx.status("TDX_OPERAND_INVALID", ctx.operandOf("sept_page_pa")));
    if (entry.state !== "NL_MAPPED") return stateIncorrect();
  } else if (entry.state === "FREE") {
    const r = checkAndLockHpa(ctx, pages[0], ctx.operandOf("sept_page_pa"), {
      expectedType: "PT_NDA",
      lock: "exclusive",
    });
    if (r.fail) return finish(r.fail);
  } else if (allowExisting) flagged[0] |= BIT63;
  else return stateIncorrect();

  // The L2 pages (version 1).
  if (v1) {
    for (let vm = 1; vm <= 3; vm++) {
      if (pages[vm] === NULL_PA) continue;
      const operand = ctx.operandOf(L2_PAGE_INPUTS[vm - 1]);
      if (vm > g.numL2Vms) return finish(ctx.status("TDX_OPERAND_INVALID", operand));
      const l2 = walk(ctx.spec, td, g, gpa, level, vm);
      const detail = (BigInt(vm) << 16n) | BigInt(l2.level);
      if (!l2.reached) {
        reportEntry(ctx, l2.entry, l2.level, { vm, debug: isDebugTd(ctx, td) });
        return finish(ctx.status("TDX_L2_SEPT_WALK_FAILED", detail));
      }
      if (l2.entry.state === "L2_FREE") {
        const r = checkAndLockHpa(ctx, pages[vm], operand, {
          expectedType: "PT_NDA",
          lock: "exclusive",
        });
        if (r.fail) return finish(r.fail);
      } else if (allowExisting) flagged[vm] |= BIT63;
      else {
        reportEntry(ctx, l2.entry, l2.level, { vm, debug: isDebugTd(ctx, td) });
        return finish(ctx.status("TDX_L2_SEPT_ENTRY_NOT_FREE", detail));
      }
    }
  }

  // Commit. A version 1 call may stop between pages for a pending host interrupt; the
  // pages it consumed read back as NULL_PA so that the host calls again with the rest.
  let added = false;
  if ((flagged[0] & BIT63) === 0n) {
    initSeptPage(ctx, td, pages[0]);
    setEntry(td, gpa, { ...entry, state: "NL_MAPPED", hpa: pages[0], level, leaf: false });
    flagged[0] = NULL_PA;
    added = true;
  }
  if (v1) {
    for (let vm = 1; vm <= 3; vm++) {
      if ((flagged[vm] & BIT63) !== 0n) continue;
      if (added && hostInterruptPending(ctx)) {
        ctx.out("sept_entry", rcxIn);
        ctx.out("sept_level_and_state", rdxIn);
        return finish(ctx.status("TDX_INTERRUPTED_RESUMABLE"));
      }
      initSeptPage(ctx, td, pages[vm]);
      setEntry(td, gpa, withAlias(entryAt(td, level, gpa), vm, true));
      setEntry(td, gpa, {
        state: "L2_NL_MAPPED",
        hpa: pages[vm],
        level,
        leaf: false,
        attributes: 0n,
      }, vm);
      flagged[vm] = NULL_PA;
      added = true;
    }
  }
  return finish(ctx.ok());
};
