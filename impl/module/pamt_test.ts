import { strict as assert } from "node:assert";
import { Pamt } from "./pamt.ts";

Deno.test("Pamt.ownedBy lists a TD's pages but not its TDR, whose owner is 0", () => {
  const pamt = new Pamt();
  // A TDR at physical address 0 has the same owner value as its own entry's.
  pamt.set(0n, { pageType: "PT_TDR", owner: 0n, level: 0 });
  pamt.set(0x1000n, { pageType: "PT_TDCX", owner: 0n, level: 0 });
  pamt.set(0x2000n, { pageType: "PT_TDR", owner: 0n, level: 0 });
  pamt.set(0x3000n, { pageType: "PT_REG", owner: 0x2000n, level: 0 });
  assert.deepEqual(pamt.ownedBy(0n), [0x1000n]);
  assert.deepEqual(pamt.ownedBy(0x2000n), [0x3000n]);
});
