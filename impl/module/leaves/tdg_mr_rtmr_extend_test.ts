import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { GuestHarness } from "../testing/guest_harness.ts";
import { rtmrLock } from "../rtmr_lock.ts";

const GPA = 0x10_0000n;

function setup() {
  const h = new GuestHarness();
  const hpa = h.map(GPA);
  const data = Uint8Array.from({ length: 48 }, (_, i) => i + 1);
  h.writePrivate(hpa + 0x40n, data);
  return { h, data };
}

Deno.test("TDG.MR.RTMR.EXTEND: RTMR[i] = SHA-384(RTMR[i] || data)", () => {
  const { h, data } = setup();
  const before = h.td.rtmr[2].slice();
  const r = h.tdcall("TDG.MR.RTMR.EXTEND", { extend_data_gpa: GPA + 0x40n, index: 2 });
  assert.equal(r.name, "TDX_SUCCESS");
  const want = createHash("sha384").update(before).update(data).digest();
  assert.deepEqual(h.td.rtmr[2], new Uint8Array(want));
  assert.deepEqual(h.td.rtmr[0], new Uint8Array(48));
});

const cases: {
  why: string;
  gpa?: bigint;
  index?: number;
  arrange?: (h: GuestHarness) => void;
  status: string;
  operand?: string;
}[] = [
  {
    why: "GPA not 64-byte aligned",
    gpa: GPA + 0x48n,
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  { why: "shared GPA", gpa: GPA | (1n << 47n), status: "TDX_OPERAND_INVALID", operand: "RCX" },
  { why: "GPA above GPAW", gpa: GPA | (1n << 48n), status: "TDX_OPERAND_INVALID", operand: "RCX" },
  { why: "index 4", index: 4, status: "TDX_OPERAND_INVALID", operand: "RDX" },
  {
    why: "RTMR lock held",
    arrange: (h) => h.state.locks.hold(rtmrLock(h.td), "shared"),
    status: "TDX_OPERAND_BUSY",
    operand: "RTMR",
  },
];

for (const c of cases) {
  Deno.test(`TDG.MR.RTMR.EXTEND: ${c.why} -> ${c.status} ${c.operand ?? ""}`, () => {
    const { h } = setup();
    c.arrange?.(h);
    const before = h.td.rtmr.map((x) => x.slice());
    const r = h.tdcall("TDG.MR.RTMR.EXTEND", {
      extend_data_gpa: c.gpa ?? GPA + 0x40n,
      index: c.index ?? 1,
    });
    assert.equal(r.name, c.status);
    assert.equal(r.operand, c.operand);
    assert.deepEqual(h.td.rtmr, before);
  });
}

Deno.test("TDG.MR.RTMR.EXTEND: the index is checked only after the GPA was translated", () => {
  const { h } = setup();
  // An unmapped GPA gives an EPT-violation TD exit even with a bad index.
  const r = h.tdcall("TDG.MR.RTMR.EXTEND", { extend_data_gpa: 0x20_0000n, index: 9 });
  assert.equal(r.completed, false);
  assert.equal(h.vcpu.pendingExit?.kind, "ept-violation");
  if (h.vcpu.pendingExit?.kind === "ept-violation") {
    assert.equal(h.vcpu.pendingExit.gpa, 0x20_0000n);
  }
});

Deno.test("TDG.MR.RTMR.EXTEND: a PENDING page injects a #VE instead", () => {
  const h = new GuestHarness();
  h.map(GPA, { state: "PENDING" });
  const r = h.tdcall("TDG.MR.RTMR.EXTEND", { extend_data_gpa: GPA, index: 0 });
  assert.equal(r.completed, false);
  assert.equal(h.vcpu.veInfo?.valid, true);
  assert.equal(h.vcpu.veInfo?.gpa, GPA);
  assert.equal(h.vcpu.pendingExit, undefined);
});
