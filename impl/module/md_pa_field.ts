// Metadata fields that hold a physical (or guest-physical) address start as NULL_PA; the
// module treats that value's bits outside the write mask as unset, so a masked write of
// such a field does not keep them.
import type { MdFieldHandler } from "./metadata.ts";
import { NULL_PA } from "./sept.ts";

export const nullPaWrite: NonNullable<MdFieldHandler["adjustOnWrite"]> = (_c, _el, cur, mask) =>
  cur === NULL_PA ? cur & mask : cur;
