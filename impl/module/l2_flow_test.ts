// TD partitioning end to end: an L1 VMM (a guest program) enters its L2 VM with
// TDG.VP.ENTER while the host enters the vCPU with TDH.VP.ENTER; TD exits from L2, the
// host resuming L2 or (RESUME_L1) L1, and what L1's TDG.VP.ENTER then returns.
import { strict as assert } from "node:assert";
import { encodeBits } from "../spec/bits.ts";
import type { GuestProgram } from "../cpu/guest_execution.ts";
import { leafRegisters, tdcallByName } from "../cpu/leaf_call.ts";
import type { Registers } from "../cpu/registers.ts";
import { Platform } from "./testing/fixture.ts";
import { MemoryTd } from "./testing/memory_fixture.ts";
import { catalog } from "./metadata.ts";
import { attachL2Program, type L2Program } from "./l2_guest.ts";
import { entryAt } from "./sept.ts";

const STATE = 0x1000_0000n;
const VAPIC = 0x1000_1000n;

interface World {
  p: Platform;
  m: MemoryTd;
  vcpu: bigint;
  /** L1's TDG.VP.ENTER registers, as L1 sees them once it runs again. */
  l1: Registers[];
}

function fieldId(p: Platform, name: string, flat = 0): bigint {
  const cat = catalog(p.spec);
  return cat.elementId(cat.field("vcpu", name), flat);
}

/** L1: sets VM 1's virtual-APIC page, enters VM 1, then (when resumed) reports to the host. */
function l1Vmm(w: World): GuestProgram {
  const spec = w.p.spec;
  return function* (port) {
    tdcallByName(spec, port, "TDG.VP.WR", {
      field_id: fieldId(w.p, "L2_VM1_VIRTUAL_APIC_PAGE_ADDR"),
      data: VAPIC,
      write_mask: ~0n,
    });
    const f = spec.tdcall("TDG.VP.ENTER").inputs.find((r) => r.name === "vm_and_flags")!.fields!;
    const regs = leafRegisters(spec, spec.tdcall("TDG.VP.ENTER"), {
      vm_and_flags: encodeBits(f, { VM: 1n }),
      guest_state_gpa: STATE,
    });
    port.tdcall(regs);
    if (port.exitRequested) yield;
    w.l1.push({ ...regs });
    for (;;) {
      tdcallByName(spec, port, "TDG.VP.VMCALL", { control: 0n });
      yield;
    }
  };
}

function world(opts: { debug?: boolean } = {}): World {
  const p = new Platform();
  p.readyPlatform();
  const m = new MemoryTd(p, { stage: "initialized", numL2Vms: 1, debug: opts.debug });
  m.pageAdd(STATE);
  m.pageAdd(VAPIC);
  m.finalize();
  const w: World = { p, m, vcpu: m.vcpus[0], l1: [] };
  p.cpu.attachGuestProgram(m.tdr, l1Vmm(w));
  return w;
}

function enter(w: World, flags: Record<string, bigint> = {}) {
  const f = w.p.spec.seamcall("TDH.VP.ENTER").inputs.find((r) =>
    r.name === "vcpu_handle_and_flags"
  )!.fields!;
  const r = w.p.seamcall("TDH.VP.ENTER", {
    vcpu_handle_and_flags: encodeBits(f, { tdvpr_pa: w.vcpu >> 12n, ...flags }),
  });
  return { ...r, vm: (r.out.exit_qualification >> 32n) & 3n };
}
const reason = (w: World, name: string) => w.p.spec.enumValue("VMX_EXIT_REASON", name);
const setCtl = (w: World, name: string, v: Record<string, bigint>) => {
  const r = w.p.seamcall("TDH.VP.WR", {
    tdvpr_pa: w.vcpu,
    field_id: fieldId(w.p, name, 1),
    value: encodeBits(w.p.spec.bitfield(name).fields, v),
    write_mask: ~0n,
  });
  assert.equal(r.name, "TDX_SUCCESS");
};

Deno.test("L2 idles: TD exit from VM 1; re-entry resumes L2; RESUME_L1 -> TDX_L2_EXIT_HOST_ROUTED_ASYNC", () => {
  const w = world();
  const first = enter(w);
  assert.deepEqual([first.name, first.detail, first.vm], [
    "TDX_SUCCESS",
    reason(w, "INTERRUPT"),
    1n,
  ]);
  const again = enter(w);
  assert.deepEqual([again.name, again.detail, again.vm], [
    "TDX_SUCCESS",
    reason(w, "INTERRUPT"),
    1n,
  ]);
  assert.equal(w.l1.length, 0);
  const back = enter(w, { resume_l1: 1n });
  // L1 ran again: its TDG.VP.ENTER completed, then it made TDG.VP.VMCALL from VM 0.
  assert.deepEqual([back.name, back.detail, back.vm], ["TDX_SUCCESS", reason(w, "TDCALL"), 0n]);
  assert.equal(w.l1.length, 1);
  const d = w.p.describe(w.l1[0].RAX);
  assert.deepEqual([d.name, d.detail], ["TDX_L2_EXIT_HOST_ROUTED_ASYNC", reason(w, "INTERRUPT")]);
});

Deno.test("RESUME_L1 while L1 runs is TDX_OPERAND_INVALID RCX", () => {
  const w = world();
  attachL2Program(w.p.module.state, w.m.tdr, 1, () => ({
    kind: "vm-exit",
    exit: { reason: "HLT_INSTRUCTION", instruction: 1n << 32n },
  }));
  const r = enter(w);
  // L2 halted -> L1 -> L1's TDG.VP.VMCALL from VM 0.
  assert.deepEqual([r.name, r.detail, r.vm], ["TDX_SUCCESS", reason(w, "TDCALL"), 0n]);
  const d = w.p.describe(w.l1[0].RAX);
  assert.deepEqual([d.name, d.detail], ["TDX_SUCCESS", reason(w, "HLT_INSTRUCTION")]);
  const bad = enter(w, { resume_l1: 1n });
  assert.deepEqual([bad.name, bad.operand], ["TDX_OPERAND_INVALID", "RCX"]);
});

/** L2: TDG.VP.VMCALL passing R12 to the host, then CPUID once the host answered. */
function vmcallThenCpuid(w: World, seen: bigint[]): L2Program {
  let calls = 0;
  return (e) => {
    if (calls++ === 0) {
      Object.assign(e.regs.gprs, {
        RAX: BigInt(w.p.spec.tdcall("TDG.VP.VMCALL").leaf),
        RCX: 1n << w.p.spec.enumValue("GPR_INDEX", "R12"),
        R12: 0x12n,
      });
      return { kind: "tdcall" };
    }
    seen.push(e.regs.gprs.RAX, e.regs.gprs.R12);
    return { kind: "vm-exit", exit: { reason: "CPUID_INSTRUCTION", instruction: 2n << 32n } };
  };
}

Deno.test("L2's TDG.VP.VMCALL goes to the host; the host's answer resumes L2, which exits to L1", () => {
  const w = world();
  // L1 lets VM 1 call the host (L2_CTLS is L1's to write; here through the TD's vCPU state).
  w.p.module.state.vcpus.get(w.vcpu)!.fields.set(
    fieldId(w.p, "L2_CTLS", 1),
    encodeBits(w.p.spec.bitfield("L2_CTLS").fields, { ENABLE_TDVMCALL: 1n }),
  );
  const seen: bigint[] = [];
  attachL2Program(w.p.module.state, w.m.tdr, 1, vmcallThenCpuid(w, seen));
  const exit = enter(w);
  assert.deepEqual([exit.name, exit.detail, exit.vm], ["TDX_SUCCESS", reason(w, "TDCALL"), 1n]);
  // The host answers R12 = 0x99 and resumes L2.
  const f = w.p.spec.seamcall("TDH.VP.ENTER").inputs.find((r) =>
    r.name === "vcpu_handle_and_flags"
  )!.fields!;
  const regs = leafRegisters(w.p.spec, w.p.spec.seamcall("TDH.VP.ENTER"), {
    vcpu_handle_and_flags: encodeBits(f, { tdvpr_pa: w.vcpu >> 12n }),
  });
  regs.R12 = 0x99n;
  w.p.cpu.seamcall(0, regs);
  assert.deepEqual(seen, [w.p.spec.statusValue("TDX_SUCCESS"), 0x99n]);
  const d = w.p.describe(w.l1[0].RAX);
  assert.deepEqual([d.name, d.detail], ["TDX_SUCCESS", reason(w, "CPUID_INSTRUCTION")]);
});

Deno.test("L2's TDG.VP.VMCALL, then RESUME_L1 -> TDX_L2_EXIT_HOST_ROUTED_TDVMCALL", () => {
  const w = world();
  w.p.module.state.vcpus.get(w.vcpu)!.fields.set(
    fieldId(w.p, "L2_CTLS", 1),
    encodeBits(w.p.spec.bitfield("L2_CTLS").fields, { ENABLE_TDVMCALL: 1n }),
  );
  attachL2Program(w.p.module.state, w.m.tdr, 1, vmcallThenCpuid(w, []));
  enter(w);
  const back = enter(w, { resume_l1: 1n });
  assert.deepEqual([back.name, back.vm], ["TDX_SUCCESS", 0n]);
  const d = w.p.describe(w.l1[0].RAX);
  assert.deepEqual([d.name, d.detail], ["TDX_L2_EXIT_HOST_ROUTED_TDVMCALL", reason(w, "TDCALL")]);
});

Deno.test("Debug TD: TD_EXIT_ON_L1_TO_L2 -> TDH.VP.ENTER returns TDX_TD_EXIT_BEFORE_L2_ENTRY", () => {
  const w = world({ debug: true });
  setCtl(w, "L2_DEBUG_CTLS", { TD_EXIT_ON_L1_TO_L2: 1n });
  const r = enter(w);
  assert.deepEqual([r.name, r.vm], ["TDX_TD_EXIT_BEFORE_L2_ENTRY", 0n]);
});

Deno.test("Debug TD: TD_EXIT_ON_L2_TO_L1 and TD_EXIT_ON_L2_VM_EXIT reach the host", () => {
  const w = world({ debug: true });
  setCtl(w, "L2_DEBUG_CTLS", { TD_EXIT_ON_L2_TO_L1: 1n });
  attachL2Program(w.p.module.state, w.m.tdr, 1, () => ({
    kind: "vm-exit",
    exit: { reason: "CPUID_INSTRUCTION", instruction: 2n << 32n },
  }));
  const r = enter(w);
  assert.deepEqual([r.name, r.detail, r.vm], [
    "TDX_TD_EXIT_ON_L2_TO_L1",
    reason(w, "CPUID_INSTRUCTION"),
    1n,
  ]);
  const v = world({ debug: true });
  setCtl(v, "L2_DEBUG_CTLS", { TD_EXIT_ON_L2_VM_EXIT: 1n });
  const e = enter(v);
  assert.deepEqual([e.name, e.detail, e.vm], [
    "TDX_TD_EXIT_ON_L2_VM_EXIT",
    reason(v, "INTERRUPT"),
    1n,
  ]);
});

Deno.test("L2_DEBUG_CTLS: not writable by the host of a production TD", () => {
  const w = world();
  const r = w.p.seamcall("TDH.VP.WR", {
    tdvpr_pa: w.vcpu,
    field_id: fieldId(w.p, "L2_DEBUG_CTLS", 1),
    value: 1n,
    write_mask: ~0n,
  });
  assert.notEqual(r.name, "TDX_SUCCESS");
});

Deno.test("Re-entering L2 after its buffer was blocked: the cached translation holds until a new epoch", () => {
  const w = world();
  enter(w);
  entryAt(w.m.td, 0, STATE).state = "BLOCKED";
  // Same TLB-tracking epoch: the module still uses the buffer's translation.
  const stale = enter(w);
  assert.deepEqual([stale.name, stale.detail, stale.vm], [
    "TDX_SUCCESS",
    reason(w, "INTERRUPT"),
    1n,
  ]);
  // After TDH.MEM.TRACK the vCPU enters in a new epoch and translates again.
  w.m.td.epoch += 1n;
  const r = enter(w);
  assert.deepEqual([r.name, r.detail, r.vm], ["TDX_SUCCESS", reason(w, "EPT_VIOLATION"), 1n]);
  assert.equal(r.out.gpa, STATE);
  assert.equal(w.p.module.state.vcpus.get(w.vcpu)!.currVm, 1);
  entryAt(w.m.td, 0, STATE).state = "MAPPED";
  const again = enter(w);
  assert.deepEqual([again.name, again.detail, again.vm], [
    "TDX_SUCCESS",
    reason(w, "INTERRUPT"),
    1n,
  ]);
});
