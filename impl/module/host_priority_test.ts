import { strict as assert } from "node:assert";
import { encodeBits } from "../spec/bits.ts";
import { GuestHarness } from "./testing/guest_harness.ts";
import { hpLockTimeoutField, hpLockTimeoutTsc, nativeTscHz } from "./host_priority.ts";
import type { MdContext, MdElement } from "./metadata.ts";
import { entryAt, lockEntryHost } from "./sept.ts";
import { tdxLimit } from "./td_limits.ts";

const GPA = 0x20_0000n;
const TSC = "IA32_TIME_STAMP_COUNTER";

function accept(h: GuestHarness) {
  const rcx = encodeBits(h.spec.bitfield("GPA_AND_LEVEL").fields, { level: 0n, gpa: GPA >> 12n });
  return h.tdcall("TDG.MEM.PAGE.ACCEPT", { gpa_and_level: rcx });
}

/** A PENDING page whose Secure EPT entry the host found locked and asked priority on. */
function contended(): GuestHarness {
  const h = new GuestHarness();
  h.map(GPA, { state: "PENDING" });
  h.td.septHostPriority = new Set([`0:0:${GPA.toString(16)}`]);
  h.p.cpu.setLpMsr(h.lp, TSC, 1_000n);
  return h;
}

function timeout(h: GuestHarness): bigint {
  return hpLockTimeoutTsc(h.spec, h.p.cpu, h.state, h.td);
}

Deno.test("host priority: the guest sees TDX_OPERAND_BUSY and the vCPU starts backing off", () => {
  const h = contended();
  const r = accept(h);
  assert.equal(r.name, "TDX_OPERAND_BUSY");
  assert.equal(r.operand, "RCX");
  assert.equal(h.vcpu.hpLockBusySince, 1_000n);
  assert.equal(h.vcpu.pendingExit, undefined);
});

Deno.test("host priority: still busy before the timeout keeps the first TSC, no TD exit", () => {
  const h = contended();
  accept(h);
  h.p.cpu.setLpMsr(h.lp, TSC, 1_000n + timeout(h) - 1n);
  const r = accept(h);
  assert.equal(r.name, "TDX_OPERAND_BUSY");
  assert.equal(h.vcpu.hpLockBusySince, 1_000n);
  assert.equal(h.vcpu.pendingExit, undefined);
});

Deno.test("host priority: busy past HP_LOCK_TIMEOUT ends in TDX_HOST_PRIORITY_BUSY_TIMEOUT", () => {
  const h = contended();
  accept(h);
  h.p.cpu.setLpMsr(h.lp, TSC, 1_000n + timeout(h));
  const r = accept(h);
  // The guest's RAX holds the busy status; the host gets a trap-like exit with no reason.
  assert.equal(r.name, "TDX_OPERAND_BUSY");
  assert.equal(r.operand, "RCX");
  assert.equal(h.vcpu.hpLockBusySince, undefined);
  const exit = h.vcpu.pendingExit;
  assert.equal(exit?.kind, "async");
  if (exit?.kind === "async") {
    assert.equal(exit.status, "TDX_HOST_PRIORITY_BUSY_TIMEOUT");
    assert.equal(h.spec.enumValue("VMX_EXIT_REASON", exit.reason), 0n);
    assert.equal(exit.regs?.RAX, r.status);
  }
});

Deno.test("host priority: a TSC that went backwards counts as a timeout (unsigned difference)", () => {
  const h = contended();
  accept(h);
  h.p.cpu.setLpMsr(h.lp, TSC, 10n);
  accept(h);
  assert.equal(h.vcpu.pendingExit?.kind, "async");
});

Deno.test("host priority: any other TDCALL outcome ends the back-off", () => {
  const h = contended();
  accept(h);
  // The host took the entry (and cleared its priority) and let it go: the accept succeeds.
  const host = h.hostContext("TDH.MEM.RANGE.BLOCK");
  assert.ok(lockEntryHost(host, h.td, GPA, 0));
  host.releaseLocks();
  const r = accept(h);
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(entryAt(h.td, 0, GPA).state, "MAPPED");
  assert.equal(h.vcpu.hpLockBusySince, undefined);
});

Deno.test("host priority: a TDCALL that leaves the TD keeps the back-off", () => {
  const h = contended();
  accept(h);
  h.mapTables(0x40_0000n, 0);
  const rcx = encodeBits(h.spec.bitfield("GPA_AND_LEVEL").fields, {
    level: 0n,
    gpa: 0x40_0000n >> 12n,
  });
  const r = h.tdcall("TDG.MEM.PAGE.ACCEPT", { gpa_and_level: rcx });
  assert.equal(r.completed, false);
  assert.equal(h.vcpu.hpLockBusySince, 1_000n);
});

Deno.test("host priority: TDG.MEM.PAGE.ATTR.RD backs off the same way", () => {
  const h = new GuestHarness({ numL2Vms: 1 });
  h.map(GPA, { state: "MAPPED" });
  h.td.septHostPriority = new Set([`0:0:${GPA.toString(16)}`]);
  const r = h.tdcall("TDG.MEM.PAGE.ATTR.RD", { gpa: GPA });
  assert.equal(r.name, "TDX_OPERAND_BUSY");
  assert.equal(r.operand, "RCX");
  assert.notEqual(h.vcpu.hpLockBusySince, undefined);
});

// ------------------------------------------------------------------ HP_LOCK_TIMEOUT metadata

function md(h: GuestHarness): { c: MdContext; el: MdElement } {
  const c: MdContext = { spec: h.spec, cpu: h.p.cpu, state: h.state, td: h.td };
  return { c, el: {} as MdElement };
}

Deno.test("HP_LOCK_TIMEOUT: 1 s by default, kept in TSC ticks", () => {
  const h = new GuestHarness();
  const hz = nativeTscHz(h.spec, h.p.cpu, h.state);
  assert.ok(hz > 0n);
  assert.equal(timeout(h), hz * tdxLimit(h.spec, "DEFAULT_HP_LOCK_TIMEOUT_USEC") / 1_000_000n);
  const { c, el } = md(h);
  assert.equal(hpLockTimeoutField.read!(c, el), tdxLimit(h.spec, "DEFAULT_HP_LOCK_TIMEOUT_USEC"));
});

Deno.test("HP_LOCK_TIMEOUT: a value in range is stored as ticks and read back in usec", () => {
  const h = new GuestHarness();
  const { c, el } = md(h);
  assert.equal(hpLockTimeoutField.write!(c, el, 20_000n, 0n, { who: "host" }), undefined);
  const hz = nativeTscHz(h.spec, h.p.cpu, h.state);
  assert.equal(timeout(h), (20_000n * hz / 1_000_000n) & 0xFFFF_FFFFn);
  assert.equal(hpLockTimeoutField.read!(c, el), 20_000n);
});

Deno.test("HP_LOCK_TIMEOUT: below 10 ms or above 100 s is TDX_METADATA_FIELD_VALUE_NOT_VALID", () => {
  const h = new GuestHarness();
  const { c, el } = md(h);
  const min = tdxLimit(h.spec, "MIN_HP_LOCK_TIMEOUT_USEC");
  const max = tdxLimit(h.spec, "MAX_HP_LOCK_TIMEOUT_USEC");
  for (const v of [0n, min - 1n, max + 1n]) {
    assert.deepEqual(hpLockTimeoutField.write!(c, el, v, 0n, { who: "host" }), {
      status: "TDX_METADATA_FIELD_VALUE_NOT_VALID",
    });
  }
  assert.equal(h.td.hpLockTimeoutTsc, undefined);
  assert.equal(hpLockTimeoutField.write!(c, el, min, 0n, { who: "host" }), undefined);
  assert.equal(hpLockTimeoutField.write!(c, el, max, 0n, { who: "host" }), undefined);
});
