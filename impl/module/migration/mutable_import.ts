// The destination TD takes the mutable TD state imported with TDH.IMPORT.STATE.TD: RTMRs
// into the measurement registers, the other fields into the TD's stored metadata. The
// service-TD binding table (optional) is not taken over by the model.
import type { LeafContext } from "../leaf_context.ts";
import type { TdState } from "../state.ts";
import { catalog } from "../metadata.ts";
import type { ImportedValues } from "./md_lists.ts";

export function applyMutableTdState(ctx: LeafContext, td: TdState, got: ImportedValues): void {
  const cat = catalog(ctx.spec);
  for (const [name, values] of got) {
    if (name === "SERVTD_BINDINGS_TABLE") continue;
    const field = cat.field("td", name);
    for (const [flat, v] of values) {
      if (name === "RTMR") {
        const el = cat.element(field, flat);
        const view = new DataView(td.rtmr[el.fieldIndex].buffer, td.rtmr[el.fieldIndex].byteOffset);
        view.setBigUint64(8 * el.elementIndex, v, true);
        continue;
      }
      td.fields.set(cat.elementId(field, flat), v & field.fullMask);
    }
  }
}
