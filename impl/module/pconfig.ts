// PCONFIG as the module uses it to program an MKTME key with a CPU-generated random
// key on the calling LP's package. The key-encryption table (KET) of a package is a
// lock: a concurrent PCONFIG on the package makes the instruction report "device
// busy" (TDX_OPERAND_BUSY, operand KET); a CPU with no entropy makes it report an
// entropy error (TDX_KEY_GENERATION_FAILED).
import type { Completion } from "./completion.ts";
import type { LeafContext } from "./leaf_context.ts";

/** Lock resource of a package's key-encryption table. */
export function ketLock(pkg: number): string {
  return `ket:${pkg}`;
}

/** The package of the calling logical processor. */
export function packageOf(ctx: LeafContext): number {
  // TDH.SYS.LP.INIT records it from the x2APIC ID; the CPU's topology otherwise.
  return ctx.state.platform.lpPackage.get(ctx.lp.id) ?? ctx.cpu.platform.lpPackages[ctx.lp.id];
}

/** Programs `keyId` with a random key on the caller's package; a failure status or undefined. */
export function programRandomKey(ctx: LeafContext, _keyId: number): Completion | undefined {
  const busy = ctx.lock(ketLock(packageOf(ctx)), "exclusive", "KET");
  if (busy) return busy;
  // The CPU draws the key from its own DRNG; the model's keys are not kept (integrity
  // is modelled by KeyID ownership of lines, not by real encryption).
  if (ctx.cpu.rdrand64() === undefined) return ctx.status("TDX_KEY_GENERATION_FAILED");
  return undefined;
}
