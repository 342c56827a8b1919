// The GPA_AND_LEVEL operand of the guest's page leaves (TDG.MEM.PAGE.ACCEPT, ATTR.WR):
// reserved bits clear, a level the leaf allows, the GPA aligned to that level and a
// private GPA within the TD's GPA width.
import { decodeBits, reservedMask } from "../../spec/bits.ts";
import type { LeafContext } from "../leaf_context.ts";
import { alignDown, checkPrivateGpa, septGeometry } from "../sept.ts";
import type { TdState } from "../state.ts";

export function gpaAndLevel(
  ctx: LeafContext,
  td: TdState,
  raw: bigint,
  maxLevel: number,
): { gpa: bigint; level: number } | undefined {
  const layout = ctx.spec.bitfield("GPA_AND_LEVEL").fields;
  if ((raw & reservedMask(layout)) !== 0n) return undefined;
  const f = decodeBits(layout, raw).fields;
  const level = Number(f.level);
  const gpa = f.gpa << 12n;
  if (level > maxLevel || alignDown(gpa, level) !== gpa) return undefined;
  if (!checkPrivateGpa(septGeometry(ctx.spec, td), gpa)) return undefined;
  return { gpa, level };
}
