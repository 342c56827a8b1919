// Pieces the platform leaves share: the module's global lock (TDX_SYS_BUSY), the shared
// host-buffer check against the recorded platform (MAX_PA, SEAMRR, shared HKID), and
// turning a platform-check refusal into a completion with its output registers.
import type { Completion } from "./completion.ts";
import type { LeafContext } from "./leaf_context.ts";
import { lockKey, type LockMode } from "./locks.ts";
import type { PlatformFault } from "./platform_sample.ts";

/** Takes the module-wide lock, or TDX_SYS_BUSY when another platform operation holds it. */
export function lockGlobal(ctx: LeafContext, mode: LockMode): Completion | undefined {
  if (ctx.state.locks.tryAcquire(lockKey.global(), mode, ctx.owner)) return undefined;
  return ctx.status("TDX_SYS_BUSY");
}

/** Zeroes every output register but RAX, as leaves that clear their outputs on entry do. */
export function clearOutputs(ctx: LeafContext): void {
  for (const o of ctx.leaf.outputs) if (o.reg !== "RAX") ctx.out(o.name, 0n);
}

export function faultCompletion(ctx: LeafContext, f: PlatformFault): Completion {
  for (const [name, v] of Object.entries(f.outputs ?? {})) ctx.out(name, v);
  return ctx.status(f.status, f.detail);
}

/**
 * A host (shared) buffer: aligned, below MAX_PA, outside the SEAM range and with a
 * shared HKID. `size` is the length that must stay out of SEAMRR.
 */
export function sharedBufferInvalid(
  ctx: LeafContext,
  pa: bigint,
  alignment: bigint,
  size: bigint,
): boolean {
  if (pa % alignment !== 0n) return true;
  const mem = ctx.cpu.memory;
  const sampled = ctx.state.platform.sampled;
  const maxPa = sampled?.maxPa ?? mem.maxPa;
  if (pa >> BigInt(maxPa) !== 0n) return true;
  const { keyId, addr } = mem.split(pa);
  const seamrr = sampled?.seamrr ?? ctx.cpu.platform.seamrr;
  if (addr < seamrr.base + seamrr.size && seamrr.base < addr + size) return true;
  const firstPrivate = sampled?.privateHkidMin ?? ctx.cpu.platform.sharedKeyIds + 1;
  return keyId >= firstPrivate;
}
