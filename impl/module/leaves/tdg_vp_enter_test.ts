import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { StructCodec } from "../../spec/codec.ts";
import { GuestHarness } from "../testing/guest_harness.ts";
import { catalog } from "../metadata.ts";
import { attachL2Program, type L2Program } from "../l2_guest.ts";

const STATE = 0x20_0000n;
const VAPIC = 0x20_1000n;

const vmFlags = (h: GuestHarness, v: Record<string, bigint>) =>
  encodeBits(
    h.spec.tdcall("TDG.VP.ENTER").inputs.find((r) => r.name === "vm_and_flags")!.fields!,
    v,
  );
const fieldId = (h: GuestHarness, name: string, flat = 0) => {
  const cat = catalog(h.spec);
  return cat.elementId(cat.field("vcpu", name), flat);
};
/** Per-VM control `name` (L2_CTLS, L2_DEBUG_CTLS) of VM `vm`, as its owner writes it. */
const setCtl = (h: GuestHarness, name: string, vm: number, v: Record<string, bigint>) =>
  h.vcpu.fields.set(fieldId(h, name, vm), encodeBits(h.spec.bitfield(name).fields, v));

/** L2_ENTER_GUEST_STATE with RBX, RIP and RFLAGS set. */
function guestState(h: GuestHarness, v: Record<string, bigint> = {}): Uint8Array {
  const s = h.spec.struct("L2_ENTER_GUEST_STATE");
  const value: Record<string, bigint> = {};
  for (const f of s.fields!) value[f.name] = 0n;
  return new StructCodec(h.spec).encode(s.name, {
    ...value,
    rbx: 0xB0n,
    rip: 0x1000n,
    rflags: 2n,
    ...v,
  });
}
function readState(h: GuestHarness, hpa: bigint): Record<string, bigint> {
  const s = h.spec.struct("L2_ENTER_GUEST_STATE");
  return new StructCodec(h.spec).decode(s.name, h.readPrivate(hpa, s.size as number))
    .value as Record<
      string,
      bigint
    >;
}

/** A TD with `vms` L2 VMs; L1 mapped its guest-state buffer and set VM 1's virtual-APIC page. */
function ready(vms = 1, opts: { vapic?: boolean } = {}) {
  const h = new GuestHarness({ numL2Vms: vms, attributes: 1n });
  const stateHpa = h.map(STATE);
  h.writePrivate(stateHpa, guestState(h));
  h.map(VAPIC);
  if (opts.vapic !== false) {
    const r = h.tdcall("TDG.VP.WR", {
      field_id: fieldId(h, "L2_VM1_VIRTUAL_APIC_PAGE_ADDR"),
      data: VAPIC,
      write_mask: 0xFFFF_FFFF_FFFF_FFFFn,
    });
    assert.equal(r.name, "TDX_SUCCESS");
  }
  return { h, stateHpa };
}
const enter = (h: GuestHarness, vm = 1n, gpa = STATE, extra: Record<string, bigint> = {}) =>
  h.tdcall("TDG.VP.ENTER", {
    vm_and_flags: vmFlags(h, { VM: vm, ...extra }),
    guest_state_gpa: gpa,
  });
const reason = (h: GuestHarness, name: string) => h.spec.enumValue("VMX_EXIT_REASON", name);

// ---------------------------------------------------------------- operand checks

const operandCases: {
  why: string;
  arrange?: (h: GuestHarness) => void;
  gpa?: (h: GuestHarness) => bigint;
  vm?: bigint;
  extra?: Record<string, bigint>;
  operand: string;
}[] = [
  { why: "buffer not 256-byte aligned", gpa: () => STATE + 0x80n, operand: "RDX" },
  { why: "shared buffer GPA", gpa: (h) => STATE | h.sharedBit, operand: "RDX" },
  { why: "buffer GPA above GPAW", gpa: () => STATE | (1n << 50n), operand: "RDX" },
  { why: "misaligned buffer and VM 0 (RDX first)", gpa: () => STATE + 8n, vm: 0n, operand: "RDX" },
  { why: "VM 0", vm: 0n, operand: "RCX" },
  { why: "VM above NUM_L2_VMS", vm: 2n, operand: "RCX" },
  { why: "RESERVED_0 set", extra: { RESERVED_0: 1n }, operand: "RCX" },
  { why: "RESERVED_1 set", extra: { RESERVED_1: 1n }, operand: "RCX" },
];
for (const c of operandCases) {
  Deno.test(`TDG.VP.ENTER: ${c.why} -> TDX_OPERAND_INVALID ${c.operand}`, () => {
    const { h } = ready();
    const r = enter(h, c.vm ?? 1n, c.gpa?.(h) ?? STATE, c.extra);
    assert.equal(r.name, "TDX_OPERAND_INVALID");
    assert.equal(r.operand, c.operand);
    assert.equal(h.vcpu.currVm ?? 0, 0);
  });
}

Deno.test("TDG.VP.ENTER: L1 never set the VM's virtual-APIC page -> TDX_OPERAND_INVALID L2_VAPIC_GPA", () => {
  const { h } = ready(1, { vapic: false });
  const r = enter(h);
  assert.equal(r.name, "TDX_OPERAND_INVALID");
  assert.equal(r.operand, "L2_VAPIC_GPA");
});

Deno.test("TDG.VP.ENTER: an interrupt pending for L1 -> TDX_PENDING_INTERRUPT, L2 not entered", () => {
  const { h } = ready();
  h.vcpu.guestInterruptPending = true;
  const r = enter(h);
  assert.equal(r.name, "TDX_PENDING_INTERRUPT");
  assert.equal(h.vcpu.currVm ?? 0, 0);
});

Deno.test("L2 virtual-APIC page address: a shared GPA is TDX_METADATA_FIELD_VALUE_NOT_VALID", () => {
  const { h } = ready(1, { vapic: false });
  const id = fieldId(h, "L2_VM1_VIRTUAL_APIC_PAGE_ADDR");
  const bad = h.tdcall("TDG.VP.WR", { field_id: id, data: VAPIC | h.sharedBit, write_mask: ~0n });
  assert.equal(bad.name, "TDX_METADATA_FIELD_VALUE_NOT_VALID");
  const rd = h.tdcall("TDG.VP.RD", { field_id: id });
  assert.equal(rd.out.value, 0xFFFF_FFFF_FFFF_FFFFn);
  // VM 2's VMCS does not exist in a TD with one L2 VM.
  const vm2 = h.tdcall("TDG.VP.RD", { field_id: fieldId(h, "L2_VM2_VIRTUAL_APIC_PAGE_ADDR") });
  assert.equal(vm2.name, "TDX_METADATA_FIELD_ID_INCORRECT");
});

// ---------------------------------------------------------------- TD exits around the entry

Deno.test("TDG.VP.ENTER with TD_EXIT_ON_L1_TO_L2: TD exit TDX_TD_EXIT_BEFORE_L2_ENTRY, L1 stays", () => {
  const { h } = ready();
  setCtl(h, "L2_DEBUG_CTLS", 1, { TD_EXIT_ON_L1_TO_L2: 1n });
  const r = enter(h);
  assert.equal(r.completed, false);
  const exit = h.vcpu.pendingExit;
  assert.equal(exit?.kind, "async");
  if (exit?.kind === "async") assert.equal(exit.status, "TDX_TD_EXIT_BEFORE_L2_ENTRY");
  assert.equal(h.vcpu.currVm ?? 0, 0);
});

for (const which of ["buffer", "virtual-APIC page"]) {
  Deno.test(`TDG.VP.ENTER with the ${which} unmapped: EPT-violation TD exit at its GPA`, () => {
    const h = new GuestHarness({ numL2Vms: 1 });
    if (which !== "buffer") h.map(STATE);
    h.map(0x40_0000n);
    h.tdcall("TDG.VP.WR", {
      field_id: fieldId(h, "L2_VM1_VIRTUAL_APIC_PAGE_ADDR"),
      data: VAPIC,
      write_mask: ~0n,
    });
    const r = enter(h);
    assert.equal(r.completed, false);
    const exit = h.vcpu.pendingExit;
    assert.equal(exit?.kind, "async");
    if (exit?.kind === "async") {
      assert.equal(exit.reason, "EPT_VIOLATION");
      assert.equal(exit.gpa, which === "buffer" ? STATE : VAPIC);
    }
    assert.equal(h.vcpu.currVm ?? 0, 0);
  });
}

Deno.test("TDG.VP.ENTER of an idle L2 VM: TD exit (external interrupt) from VM 1", () => {
  const { h, stateHpa } = ready();
  const r = enter(h);
  assert.equal(r.completed, false);
  const exit = h.vcpu.pendingExit;
  assert.equal(exit?.kind, "async");
  if (exit?.kind === "async") {
    assert.deepEqual([exit.status, exit.reason], ["TDX_SUCCESS", "INTERRUPT"]);
  }
  assert.equal(h.vcpu.currVm, 1);
  // The L2 state went back to the buffer on the TD exit.
  assert.equal(readState(h, stateHpa).rbx, 0xB0n);
});

// ---------------------------------------------------------------- L2 -> L1 exits

const cpuidExit: L2Program = (e) => {
  e.regs.gprs.RBX = 0x1234n;
  e.regs.rip += 2n;
  return {
    kind: "vm-exit",
    exit: { reason: "CPUID_INSTRUCTION", qualification: 0n, instruction: 2n << 32n },
  };
};

Deno.test("TDG.VP.ENTER: L2 exits to L1 (CPUID) -> TDX_SUCCESS with the exit reason and info", () => {
  const { h, stateHpa } = ready();
  let seen: bigint | undefined;
  attachL2Program(h.state, h.td.tdr, 1, (e) => {
    seen = e.regs.gprs.RBX;
    return cpuidExit(e);
  });
  const r = enter(h, 1n, STATE, { INVEPT_TYPE: 1n });
  assert.equal(seen, 0xB0n);
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.detail, reason(h, "CPUID_INSTRUCTION"));
  assert.equal(r.regs.R11, 2n << 32n);
  assert.equal(r.regs.RBX, 0n);
  assert.equal(h.vcpu.currVm, 0);
  const s = readState(h, stateHpa);
  assert.deepEqual([s.rbx, s.rip], [0x1234n, 0x1002n]);
});

Deno.test("TDG.VP.ENTER: L2's TDCALL other than an allowed TDG.VP.VMCALL exits to L1", () => {
  const { h } = ready();
  attachL2Program(h.state, h.td.tdr, 1, (e) => {
    e.regs.gprs.RAX = BigInt(h.spec.tdcall("TDG.VP.VMCALL").leaf);
    return { kind: "tdcall" };
  });
  const r = enter(h);
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.detail, reason(h, "TDCALL"));
});

Deno.test("TDG.VP.ENTER: L2's TDG.VP.VMCALL with ENABLE_TDVMCALL goes to the host", () => {
  const { h } = ready();
  setCtl(h, "L2_CTLS", 1, { ENABLE_TDVMCALL: 1n });
  attachL2Program(h.state, h.td.tdr, 1, (e) => {
    e.regs.gprs.RAX = BigInt(h.spec.tdcall("TDG.VP.VMCALL").leaf);
    e.regs.gprs.RCX = 0x1000n; // R12 selected
    return { kind: "tdcall" };
  });
  const r = enter(h);
  assert.equal(r.completed, false);
  assert.equal(h.vcpu.pendingExit?.kind, "tdvmcall");
  assert.equal(h.vcpu.currVm, 1);
});

Deno.test("TDG.VP.ENTER with TD_EXIT_ON_L2_TO_L1: the L2 -> L1 exit is a TD exit instead", () => {
  const { h } = ready();
  setCtl(h, "L2_DEBUG_CTLS", 1, { TD_EXIT_ON_L2_TO_L1: 1n });
  attachL2Program(h.state, h.td.tdr, 1, cpuidExit);
  const r = enter(h);
  assert.equal(r.completed, false);
  const exit = h.vcpu.pendingExit;
  if (exit?.kind !== "async") throw new Error("no async exit");
  assert.deepEqual([exit.status, exit.reason], ["TDX_TD_EXIT_ON_L2_TO_L1", "CPUID_INSTRUCTION"]);
  assert.equal(h.vcpu.currVm, 1);
});

Deno.test("TDG.VP.ENTER with TD_EXIT_ON_L2_VM_EXIT: any L2 exit is a TD exit", () => {
  const { h } = ready();
  setCtl(h, "L2_DEBUG_CTLS", 1, { TD_EXIT_ON_L2_VM_EXIT: 1n });
  const r = enter(h);
  assert.equal(r.completed, false);
  const exit = h.vcpu.pendingExit;
  if (exit?.kind !== "async") throw new Error("no async exit");
  assert.deepEqual([exit.status, exit.reason], ["TDX_TD_EXIT_ON_L2_VM_EXIT", "INTERRUPT"]);
});

Deno.test("TDG.VP.ENTER: an L2 VM exit the model does not handle is an error, not a status", () => {
  const { h } = ready();
  attachL2Program(h.state, h.td.tdr, 1, () => ({
    kind: "vm-exit",
    exit: { reason: "EPT_VIOLATION" },
  }));
  assert.throws(() => enter(h), /does not handle L2 VM exit EPT_VIOLATION/);
});

// ---------------------------------------------------------------- posted interrupts for L1

const NV = 0xF2n;
/** L1 uses posted interrupts with notification vector NV; its PID holds `vector`'s request. */
function postedInterrupts(h: GuestHarness, vector: number): bigint {
  const pid = h.hostPage();
  const bytes = new Uint8Array(64);
  bytes[vector >> 3] |= 1 << (vector & 7);
  bytes[32] = 1; // ON
  h.p.cpu.memory.write(pid, bytes);
  const set = (name: string, v: bigint) => h.vcpu.fields.set(fieldId(h, name), v);
  set(
    "PIN_BASED_VM_EXEC_CONTROL",
    encodeBits(h.spec.bitfield("PIN_BASED_VM_EXEC_CONTROL").fields, {
      PROCESS_POSTED_INTERRUPTS: 1n,
    }),
  );
  set("POSTED_INTR_NV", NV);
  set("POSTED_INTR_DESC_ADDR", pid);
  return pid;
}
/** L2 is interrupted by `vector`, then (if resumed) executes CPUID. */
function interrupted(vector: bigint): L2Program {
  let n = 0;
  return () =>
    n++ === 0
      ? { kind: "vm-exit", exit: { reason: "INTERRUPT", interruption: 0x8000_0000n | vector } }
      : { kind: "vm-exit", exit: { reason: "CPUID_INSTRUCTION" } };
}

Deno.test("L2 interrupted by L1's posted-interrupt notification -> TDX_L2_EXIT_PENDING_INTERRUPT", () => {
  const { h } = ready();
  const pid = postedInterrupts(h, 0x41);
  attachL2Program(h.state, h.td.tdr, 1, interrupted(NV));
  const r = enter(h);
  assert.equal(r.name, "TDX_L2_EXIT_PENDING_INTERRUPT");
  assert.equal(r.detail, reason(h, "INTERRUPT"));
  assert.equal(r.regs.R9, 0x8000_0000n | NV);
  // The requests were taken from the PID: PIR and ON clear.
  assert.deepEqual([...h.p.cpu.memory.read(pid, 33)], new Array(33).fill(0));
});

Deno.test("After TDX_L2_EXIT_PENDING_INTERRUPT, L1's next TDG.VP.ENTER is TDX_PENDING_INTERRUPT", () => {
  const { h } = ready();
  postedInterrupts(h, 0x41);
  attachL2Program(h.state, h.td.tdr, 1, interrupted(NV));
  assert.equal(enter(h).name, "TDX_L2_EXIT_PENDING_INTERRUPT");
  // L1 did not take the interrupt (its RVI is above its priority): no L2 entry.
  const r = enter(h);
  assert.equal(r.name, "TDX_PENDING_INTERRUPT");
  assert.equal(h.vcpu.currVm ?? 0, 0);
});

Deno.test("L1's notification with only low vectors requested: L2 resumes", () => {
  const { h } = ready();
  postedInterrupts(h, 0x10);
  attachL2Program(h.state, h.td.tdr, 1, interrupted(NV));
  const r = enter(h);
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.detail, reason(h, "CPUID_INSTRUCTION"));
  assert.equal(h.vcpu.guestInterruptPending ?? false, false, "nothing pending for L1");
});

Deno.test("Another vector than L1's notification vector is the host's: TD exit", () => {
  const { h } = ready();
  postedInterrupts(h, 0x41);
  attachL2Program(h.state, h.td.tdr, 1, interrupted(0x30n));
  const r = enter(h);
  assert.equal(r.completed, false);
  const exit = h.vcpu.pendingExit;
  if (exit?.kind !== "async") throw new Error("no async exit");
  assert.deepEqual([exit.status, exit.reason, exit.interruptionInfo], [
    "TDX_SUCCESS",
    "INTERRUPT",
    0x8000_0030n,
  ]);
});

Deno.test("TDG.VP.ENTER: RAX version 1 -> TDX_OPERAND_INVALID RAX", () => {
  const { h } = ready();
  const r = h.tdcall("TDG.VP.ENTER", {
    vm_and_flags: vmFlags(h, { VM: 1n }),
    guest_state_gpa: STATE,
  }, { version: 1 });
  assert.equal(r.name, "TDX_OPERAND_INVALID");
  assert.equal(r.operand, "RAX");
  assert.equal(h.vcpu.currVm ?? 0, 0);
});
