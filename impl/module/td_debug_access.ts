// TDH.MEM.RD and TDH.MEM.WR: the host's debug access to one 8-byte word of a debug
// TD's private memory, through the Secure EPT leaf that maps the GPA and the TD's key.
import type { Completion } from "./completion.ts";
import type { LeafContext } from "./leaf_context.ts";
import { lockKey } from "./locks.ts";
import { checkPrivateGpa, levelSize, septGeometry, walkToLeaf } from "./sept.ts";
import {
  clearEntryOutputs,
  entryFailure,
  isDebugTd,
  lockWalkedEntry,
  openTd,
} from "./sept_steps.ts";

const READABLE = new Set([
  "MAPPED",
  "BLOCKEDW",
  "EXPORTED_BLOCKEDW",
  "EXPORTED_DIRTY",
  "EXPORTED_DIRTY_BLOCKEDW",
]);
const WRITABLE = new Set(["MAPPED", "EXPORTED_DIRTY"]);

function u64(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
}

function bytesOf(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

export function debugMemoryAccess(ctx: LeafContext, write: boolean): Completion {
  const dataOut = write ? "old_data" : "data";
  // RCX, RDX and R8 are inputs and outputs: read them before clearing the outputs.
  const data = write ? ctx.in("data") : 0n;
  const gpa = ctx.in("gpa");
  const tdrPa = ctx.in("tdr_pa");
  clearEntryOutputs(ctx);
  ctx.out(dataOut, 0n);
  const opened = openTd(ctx, tdrPa, "RDX", "shared", "shared");
  if (opened.fail) return opened.fail;
  const td = opened.value;
  if (!isDebugTd(ctx, td)) return ctx.status("TDX_TD_NON_DEBUG");
  if (gpa % 8n !== 0n) return ctx.status("TDX_OPERAND_INVALID", "RCX");
  const busy = ctx.lock(lockKey.septTree(td.tdr), "shared", "SEPT_TREE");
  if (busy) return busy;
  const g = septGeometry(ctx.spec, td);
  if (!checkPrivateGpa(g, gpa)) return ctx.status("TDX_OPERAND_INVALID", "RCX");
  const w = walkToLeaf(ctx.spec, td, g, gpa);
  if (!w.reached) return entryFailure(ctx, "TDX_EPT_ENTRY_NOT_PRESENT", w.entry, w.level);
  const locked = lockWalkedEntry(ctx, td, gpa, w);
  if (locked.fail) return locked.fail;
  const entry = locked.value;
  if (!(write ? WRITABLE : READABLE).has(entry.state)) {
    return entryFailure(ctx, "TDX_EPT_ENTRY_STATE_INCORRECT", entry, w.level);
  }

  const mem = ctx.cpu.memory;
  const pa = mem.withKeyId(entry.hpa + (gpa & (levelSize(w.level) - 1n)), td.hkid);
  ctx.out(dataOut, u64(mem.read(pa, 8)));
  if (write) mem.write(pa, bytesOf(data));
  return ctx.ok();
}
