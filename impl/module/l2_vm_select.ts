// Which L2 VM a TDCALL of the L1 VMM names: the VM field (bits 53:52 of TDG.VP.ENTER's
// and TDG.VP.INVVPID's RCX) must be 1..NUM_L2_VMS and the register's reserved fields 0.
import { decodeBits, reservedMask } from "../spec/bits.ts";
import type { LeafContext } from "./leaf_context.ts";
import type { TdState } from "./state.ts";

/** The VM index and the other fields of input `name`, or undefined when it is invalid. */
export function l2VmOperand(
  ctx: LeafContext,
  td: TdState,
  name: string,
): { vm: number; fields: Record<string, bigint> } | undefined {
  const input = ctx.leaf.inputs.find((r) => r.name === name);
  if (!input?.fields) throw new Error(`${ctx.leaf.name} has no bit-field input ${name}`);
  const raw = ctx.in(name);
  const fields = decodeBits(input.fields, raw).fields;
  const vm = Number(fields.VM);
  if (vm === 0 || vm > (td.numL2Vms ?? 0) || (raw & reservedMask(input.fields)) !== 0n) {
    return undefined;
  }
  return { vm, fields };
}
