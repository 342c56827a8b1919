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
