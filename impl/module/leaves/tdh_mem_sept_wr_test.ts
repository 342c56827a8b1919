// TDH.MEM.SEPT.WR has a leaf number but no handler in the module: every call is an
// unknown leaf.
import { statusTests } from "../testing/memory_fixture.ts";

statusTests("TDH.MEM.SEPT.WR", [
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RAX",
    why: "the module does not implement the leaf",
    setup: () => ({ inputs: {} }),
  },
]);
