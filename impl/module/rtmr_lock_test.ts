import { strict as assert } from "node:assert";
import { GuestHarness } from "./testing/guest_harness.ts";
import { hpLockTimeoutTsc } from "./host_priority.ts";
import { lockRtmrHost, rtmrLock } from "./rtmr_lock.ts";

const GPA = 0x1000n;
const TSC = "IA32_TIME_STAMP_COUNTER";

function harness(): GuestHarness {
  const h = new GuestHarness();
  h.map(GPA);
  h.p.cpu.setLpMsr(h.lp, TSC, 1_000n);
  return h;
}

/** TDH.SERVTD.BIND's attempt on the TD's RTMR lock, from another LP. */
function hostAttempt(h: GuestHarness): string | undefined {
  const host = h.hostContext("TDH.SERVTD.BIND");
  const busy = lockRtmrHost(host, h.td);
  host.releaseLocks();
  return busy?.name;
}

const extend = (h: GuestHarness) =>
  h.tdcall("TDG.MR.RTMR.EXTEND", { extend_data_gpa: GPA, index: 1 });
const report = (h: GuestHarness) =>
  h.tdcall("TDG.MR.REPORT", { tdreport_gpa: GPA + 0x400n, reportdata_gpa: GPA, subtype: 0 });

Deno.test("RTMR lock: a host attempt that finds it held exclusively asks for priority", () => {
  const h = harness();
  const release = h.state.locks.hold(rtmrLock(h.td), "exclusive", "guest-on-lp-2");
  assert.equal(hostAttempt(h), "TDX_OPERAND_BUSY");
  assert.equal(h.td.rtmrHostPriority, true);
  release();
  // Free now, but the host asked first: the guest backs off (TDX_OPERAND_BUSY to it).
  const r = extend(h);
  assert.equal(r.name, "TDX_OPERAND_BUSY");
  assert.equal(r.operand, "RTMR");
  assert.equal(h.vcpu.hpLockBusySince, 1_000n);
  assert.deepEqual(h.td.rtmr[1], new Uint8Array(48));
  assert.equal(report(h).name, "TDX_OPERAND_BUSY");
});

Deno.test("RTMR lock: the host's next attempt takes it and gives the guest its turn", () => {
  const h = harness();
  const release = h.state.locks.hold(rtmrLock(h.td), "exclusive", "guest-on-lp-2");
  hostAttempt(h);
  release();
  assert.equal(hostAttempt(h), undefined);
  assert.equal(h.td.rtmrHostPriority, false);
  assert.equal(extend(h).name, "TDX_SUCCESS");
  assert.notDeepEqual(h.td.rtmr[1], new Uint8Array(48));
});

Deno.test("RTMR lock: a guest starved past HP_LOCK_TIMEOUT makes a TD exit", () => {
  const h = harness();
  const release = h.state.locks.hold(rtmrLock(h.td), "exclusive", "guest-on-lp-2");
  hostAttempt(h);
  release();
  extend(h);
  h.p.cpu.setLpMsr(h.lp, TSC, 1_000n + hpLockTimeoutTsc(h.spec, h.p.cpu, h.state, h.td));
  assert.equal(extend(h).name, "TDX_OPERAND_BUSY");
  const exit = h.vcpu.pendingExit;
  assert.equal(exit?.kind, "async");
  if (exit?.kind === "async") assert.equal(exit.status, "TDX_HOST_PRIORITY_BUSY_TIMEOUT");
});

Deno.test("RTMR lock: with host priority, a guest held out by readers is plainly busy", () => {
  const h = harness();
  h.td.rtmrHostPriority = true;
  h.state.locks.hold(rtmrLock(h.td), "shared", "reader-on-lp-2");
  const r = extend(h);
  assert.equal(r.name, "TDX_OPERAND_BUSY");
  // No back-off: the host's priority is not what stopped it.
  assert.equal(h.vcpu.hpLockBusySince, undefined);
});
