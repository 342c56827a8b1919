import { GuestHarness } from "../impl/module/testing/guest_harness.ts";
const h = new GuestHarness();
h.map(0x200000n);
const r = h.tdcall("TDG.MEM.PAGE.ATTR.RD", { gpa: 0x200000n | (1n << 47n) });
console.log(r.name, r.operand, r.status.toString(16), r.out, h.p.module.last);
