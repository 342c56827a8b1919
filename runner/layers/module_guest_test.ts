import { strict as assert } from "node:assert";
import { Platform } from "../../impl/module/testing/fixture.ts";
import { MemoryTd } from "../../impl/module/testing/memory_fixture.ts";
import { toHex } from "../../impl/spec/hex.ts";
import { ModuleSession } from "./module_layer.ts";

const DATA = 0x1000_0000n;
const PENDING = 0x1000_1000n;
const NEVER = 0x1000_5000n;
const SHARED = 1n << 47n;

/** A session on a finalized TD: DATA added (bytes 0..255), PENDING augmented. */
function running() {
  const p = new Platform();
  const m = new MemoryTd(p);
  m.pageAdd(DATA, Uint8Array.from({ length: 4096 }, (_, i) => i & 0xFF));
  m.finalize();
  m.aug(PENDING);
  const s = new ModuleSession(p);
  const vcpu = toHex(m.vcpus[0]);
  const tdcall = (input: Record<string, unknown>) => s.step("tdcall", { vcpu, ...input });
  return { p, m, s, tdcall };
}

Deno.test("tdcall: the guest's TDCALL completes with its status and output registers", () => {
  const { tdcall } = running();
  const r = tdcall({ leaf: "TDG.VP.INFO", version: 0, regs: {} });
  assert.deepEqual(r.status, { name: "TDX_SUCCESS" });
  assert.equal((r.regs as Record<string, string>).RCX, "0x30");
  // The vCPU can be entered again for the next step.
  assert.deepEqual(tdcall({ leaf: "TDG.VP.INFO", version: 0, regs: {} }).status, {
    name: "TDX_SUCCESS",
  });
});

Deno.test("tdcall: guest memory writes and reads, private and shared", () => {
  const { p, tdcall } = running();
  const r = tdcall({
    leaf: "TDG.MR.RTMR.EXTEND",
    version: 0,
    regs: { RCX: toHex(DATA + 0x40n), RDX: "0x1" },
    memory_writes: [{ gpa: toHex(DATA + 0x40n), bytes: "ab".repeat(48) }],
    memory_reads: [{ gpa: toHex(DATA + 0x3Fn), length: 3 }, {
      gpa: toHex(SHARED | 0x5000n),
      length: 2,
    }],
  });
  assert.deepEqual(r.status, { name: "TDX_SUCCESS" });
  assert.deepEqual(r.memory, ["3fabab", "0000"]);
  // A shared GPA with no shared EPT is host memory at the same address, KeyID 0.
  tdcall({
    leaf: "TDG.VP.INFO",
    version: 0,
    regs: {},
    memory_writes: [{ gpa: toHex(SHARED | 0x5000n), bytes: "c0de" }],
  });
  assert.deepEqual(p.cpu.memory.read(0x5000n, 2), Uint8Array.of(0xC0, 0xDE));
});

Deno.test("tdcall: a TDCALL that makes a TD exit reports the exit; the next step runs", () => {
  const { tdcall } = running();
  const r = tdcall({ leaf: "TDG.MEM.PAGE.ACCEPT", version: 0, regs: { RCX: toHex(NEVER) } });
  assert.equal(r.td_exit, "EPT_VIOLATION");
  assert.equal((r.exit as { regs: Record<string, string> }).regs.R8, toHex(NEVER));
  assert.equal(r.status, undefined);
  assert.deepEqual(tdcall({ leaf: "TDG.VP.INFO", version: 0, regs: {} }).status, {
    name: "TDX_SUCCESS",
  });
});

Deno.test("tdcall: a #VE on a PENDING page, then TDG.VP.VEINFO.GET", () => {
  const { tdcall } = running();
  const r = tdcall({
    leaf: "TDG.MR.REPORT",
    version: 0,
    regs: { RCX: toHex(PENDING), RDX: toHex(DATA), R8: "0x0" },
  });
  assert.deepEqual(r, { ve: "EPT_VIOLATION" });
  const info = tdcall({ leaf: "TDG.VP.VEINFO.GET", version: 0, regs: {} });
  assert.equal((info.regs as Record<string, string>).R9, toHex(PENDING));
});

Deno.test("tdcall: guest accesses to memory it cannot reach are memory faults", () => {
  const { tdcall } = running();
  const w = tdcall({
    leaf: "TDG.VP.INFO",
    version: 0,
    regs: {},
    memory_writes: [{ gpa: toHex(PENDING), bytes: "00" }],
  });
  assert.deepEqual(w, { memory_fault: toHex(PENDING) });
  const r = tdcall({
    leaf: "TDG.VP.INFO",
    version: 0,
    regs: {},
    memory_reads: [{ gpa: toHex(DATA + 0xFFEn), length: 4 }],
  });
  assert.equal(r.memory_fault, toHex(DATA + 0x1000n));
  assert.deepEqual(r.memory, []);
});

Deno.test("tdcall: TDG.VP.VMCALL shows the host's view and the guest's registers on return", () => {
  const { tdcall } = running();
  const r = tdcall({
    leaf: "TDG.VP.VMCALL",
    version: 0,
    regs: { RCX: "0x1000", R12: "0x5", R13: "0x6" },
    host_regs: { R12: "0x7", R13: "0x8" },
  });
  assert.deepEqual(r.status, { name: "TDX_SUCCESS" });
  const exit = r.vmcall_exit as { regs: Record<string, string> };
  assert.equal(exit.regs.R12, "0x5");
  assert.equal(exit.regs.R13, "0x0");
  const back = r.vmcall_return as Record<string, string>;
  assert.equal(back.R12, "0x7");
  assert.equal(back.R13, "0x6");
});

Deno.test("tdcall: an entry that fails reports TDH.VP.ENTER's status", () => {
  const p = new Platform();
  const m = new MemoryTd(p);
  const vcpu = toHex(p.createVcpu(m.created));
  const s = new ModuleSession(p);
  const r = s.step("tdcall", { vcpu, leaf: "TDG.VP.INFO", version: 0, regs: {} });
  assert.equal((r.enter as { name: string }).name, "TDX_OP_STATE_INCORRECT");
  assert.deepEqual(s.step("tdcall", { vcpu, leaf: "TDG.NO.SUCH", regs: {} }), {
    error: { class: "unknown-leaf", leaf: "TDG.NO.SUCH" },
  });
});

// ---------------------------------------------------------------- TD partitioning

const STATE = 0x1000_0000n;
const VAPIC = 0x1000_1000n;
/** TDG.VP.ENTER of VM 1 with its buffer at STATE (RCX bits 53:52 hold the VM). */
const ENTER_VM1 = {
  leaf: "TDG.VP.ENTER",
  version: 0,
  regs: { RCX: "0x10000000000000", RDX: toHex(STATE) },
};
const R12_OFFSET = 12 * 8;

/** A session on a finalized TD with one L2 VM whose virtual-APIC page L1 has set. */
function partitioned(debug = false) {
  const p = new Platform();
  p.readyPlatform();
  const m = new MemoryTd(p, { stage: "initialized", numL2Vms: 1, debug });
  m.pageAdd(STATE);
  m.pageAdd(VAPIC);
  m.finalize();
  const s = new ModuleSession(p);
  const vcpu = toHex(m.vcpus[0]);
  const tdcall = (input: Record<string, unknown>) => s.step("tdcall", { vcpu, ...input });
  const vapic = tdcall({
    leaf: "TDG.VP.WR",
    version: 0,
    regs: { RDX: "0x2424000300002012", R8: toHex(VAPIC), R9: "0xFFFFFFFFFFFFFFFF" },
  });
  assert.deepEqual(vapic.status, { name: "TDX_SUCCESS" });
  return { p, m, s, vcpu, tdcall };
}
const reasonCode = (p: Platform, name: string) =>
  toHex(BigInt(p.spec.enumValue("VMX_EXIT_REASON", name)));

Deno.test("tdcall l2_guest: VM 1 executes HLT; L1's TDG.VP.ENTER completes with the exit", () => {
  const { p, tdcall } = partitioned();
  const r = tdcall({
    ...ENTER_VM1,
    l2_guest: [{ vm: 1, exit_reason: "HLT_INSTRUCTION", instruction: "0x100000000" }],
  });
  assert.deepEqual(r.status, { name: "TDX_SUCCESS", detail: reasonCode(p, "HLT_INSTRUCTION") });
  assert.equal((r.regs as Record<string, string>).R11, "0x100000000");
  // The jobs were the step's: the next entry finds VM 1 idle (a TD exit from VM 1).
  const again = tdcall(ENTER_VM1);
  assert.equal(again.td_exit, "INTERRUPT");
});

Deno.test("tdcall l2_guest: jobs are taken in order, each time the module enters the VM", () => {
  const { p, tdcall } = partitioned();
  const r = tdcall({
    ...ENTER_VM1,
    l2_guest: [
      // An external interrupt of the host's (vector 0x30): a TD exit from VM 1.
      { vm: 1, exit_reason: "INTERRUPT", exit_interruption: "0x80000030" },
      { vm: 1, exit_reason: "CPUID_INSTRUCTION", instruction: "0x200000000" },
    ],
    resume: [{}],
  });
  const exit = (r.host_exits as { td_exit: string; regs: Record<string, string> }[])[0];
  assert.equal(exit.td_exit, "INTERRUPT");
  // The host resumed VM 1, which then executed CPUID: an exit to L1.
  assert.deepEqual(r.status, { name: "TDX_SUCCESS", detail: reasonCode(p, "CPUID_INSTRUCTION") });
  assert.equal((r.regs as Record<string, string>).R11, "0x200000000");
});

Deno.test("tdcall resume: RESUME_L1 after a TD exit from VM 1 completes TDG.VP.ENTER", () => {
  const { p, tdcall } = partitioned();
  const r = tdcall({ ...ENTER_VM1, resume: [{}, { flags: { resume_l1: 1 } }] });
  // The first entry resumed VM 1 (idle again); the second resumed L1.
  const exits = r.host_exits as { td_exit: string; regs: Record<string, string> }[];
  assert.deepEqual(exits.map((e) => [e.td_exit, e.regs.RCX]), [
    ["INTERRUPT", "0x100000000"],
    ["INTERRUPT", "0x100000000"],
  ]);
  assert.deepEqual(r.status, {
    name: "TDX_L2_EXIT_HOST_ROUTED_ASYNC",
    detail: reasonCode(p, "INTERRUPT"),
  });
  assert.equal(r.td_exit, undefined);
});

Deno.test("tdcall resume: VM 1's TDG.VP.VMCALL reaches the host, whose answer goes to the VM", () => {
  const { p, tdcall } = partitioned();
  const ctls = tdcall({
    leaf: "TDG.VP.WR",
    version: 0,
    regs: { RDX: "0xA020000300000051", R8: "0x2", R9: "0xFFFFFFFFFFFFFFFF" },
  });
  assert.deepEqual(ctls.status, { name: "TDX_SUCCESS" });
  const r = tdcall({
    ...ENTER_VM1,
    l2_guest: [{ vm: 1, tdcall: { RAX: "0x0", RCX: "0x1000", R12: "0x5" } }],
    resume: [{ flags: { resume_l1: 1 }, host_regs: { R12: "0x77" } }],
    memory_reads: [{ gpa: toHex(STATE + BigInt(R12_OFFSET)), length: 8 }],
  });
  const exit = (r.host_exits as { td_exit: string; regs: Record<string, string> }[])[0];
  // The host saw the TDVMCALL from VM 1 with R12 selected.
  assert.equal(exit.td_exit, "TDCALL");
  assert.equal(exit.regs.RCX, "0x100001000");
  assert.deepEqual(r.status, {
    name: "TDX_L2_EXIT_HOST_ROUTED_TDVMCALL",
    detail: reasonCode(p, "TDCALL"),
  });
  assert.deepEqual(r.memory, ["7700000000000000"]);
});

Deno.test("tdcall resume: after a TD exit in L1's own TDCALL the guest executes it again", () => {
  const { tdcall } = running();
  const r = tdcall({
    leaf: "TDG.MEM.PAGE.ACCEPT",
    version: 0,
    regs: { RCX: toHex(NEVER) },
    resume: [{}],
  });
  // Still unmapped: the TDCALL executed again made the same EPT-violation exit.
  assert.equal((r.host_exits as { td_exit: string }[])[0].td_exit, "EPT_VIOLATION");
  assert.equal(r.td_exit, "EPT_VIOLATION");
  assert.equal((r.exit as { regs: Record<string, string> }).regs.R8, toHex(NEVER));
});

Deno.test("tdcall resume: an entry that fails ends the step with TDH.VP.ENTER's status", () => {
  const { tdcall } = running();
  const r = tdcall({
    leaf: "TDG.MEM.PAGE.ACCEPT",
    version: 0,
    regs: { RCX: toHex(NEVER) },
    resume: [{ flags: { resume_l1: 1 } }],
  });
  // RESUME_L1 after a TD exit from L1 (no L2 VM ran).
  assert.deepEqual(r.enter, { name: "TDX_OPERAND_INVALID", operand: "RCX" });
  assert.equal((r.host_exits as unknown[]).length, 1);
});

Deno.test("tdcall resume: an entry left after the TDCALL completed is an invalid input", () => {
  const { tdcall } = running();
  const r = tdcall({ leaf: "TDG.VP.INFO", version: 0, regs: {}, resume: [{}] });
  assert.equal((r.error as { class: string; field: string }).class, "invalid-input");
  assert.equal((r.error as { field: string }).field, "resume.0");
});

Deno.test("tdcall l2_guest with a debug TD's TD_EXIT_ON_L2_TO_L1: the HLT exit goes to the host", () => {
  const { s, vcpu, tdcall } = partitioned(true);
  const wr = s.step("seamcall", {
    leaf: "TDH.VP.WR",
    version: 0,
    regs: { RCX: vcpu, RDX: "0xA020000300000055", R8: "0x2", R9: "0xFFFFFFFFFFFFFFFF" },
  });
  assert.deepEqual(wr.status, { name: "TDX_SUCCESS" });
  const r = tdcall({
    ...ENTER_VM1,
    l2_guest: [{ vm: 1, exit_reason: "HLT_INSTRUCTION", instruction: "0x100000000" }],
  });
  assert.equal(r.td_exit, "HLT_INSTRUCTION");
  assert.equal((r.exit as { status: { name: string } }).status.name, "TDX_TD_EXIT_ON_L2_TO_L1");
});

Deno.test("tdcall: a TD exit whose status carries no exit reason reports td_exit none", () => {
  const { s, tdcall } = running();
  assert.deepEqual(s.step("cpu.set", { seamdb: "lost" }), {});
  const r = tdcall({
    leaf: "TDG.MR.REPORT",
    version: 0,
    regs: { RCX: toHex(DATA), RDX: toHex(DATA + 0x400n), R8: "0x0" },
  });
  assert.equal(r.td_exit, "none");
  const exit = r.exit as { status: { name: string } };
  assert.equal(exit.status.name, "TDX_NON_RECOVERABLE_TD_CORRUPTED_MD");
});
