import { strict as assert } from "node:assert";
import { decodeBits, encodeBits } from "../../spec/bits.ts";
import type { GuestProgram } from "../../cpu/guest_execution.ts";
import { leafRegisters, tdcallByName } from "../../cpu/leaf_call.ts";
import type { Registers } from "../../cpu/registers.ts";
import { lockKey } from "../locks.ts";
import type { Platform } from "../testing/fixture.ts";
import { cpuidConfigurable } from "../td_params.ts";
import { gpaAndLevel } from "../testing/td_fixture.ts";
import {
  blockTd,
  cpuExit,
  dropTdcsPages,
  fatalWorld,
  opStateLock,
  runToFatal,
} from "../testing/td_rows.ts";
import {
  dispatcherRows,
  hpaRows,
  type TdStatusRow,
  tdStatusTests,
  type TdWorld,
  type WorldOptions,
} from "../testing/td_status_table.ts";
import type { PendingAsyncExit } from "../state.ts";

const LEAF = "TDH.VP.ENTER";
const reason = (w: TdWorld, name: string) => w.spec.enumValue("VMX_EXIT_REASON", name);
const call = (w: TdWorld, handle = w.vcpu, extra: Record<string, bigint> = {}, lp = 0) => ({
  inputs: { vcpu_handle_and_flags: handle, ...extra },
  lp,
});
/** RCX of TDH.VP.ENTER: the TDVPR and flags. */
function handle(w: TdWorld, flags: Record<string, bigint>, tdvpr = w.vcpu): bigint {
  const f = w.spec.seamcall(LEAF).inputs.find((r) => r.name === "vcpu_handle_and_flags")!.fields!;
  return encodeBits(f, { tdvpr_pa: tdvpr >> 12n, ...flags });
}

/** A finalised TD with one vCPU running `program`. */
const running = (program?: (p: Platform) => GuestProgram): WorldOptions => ({
  vcpus: [{}],
  finalize: true,
  program,
});
/** A guest that yields forever (each entry: an interrupt exit). */
const spinning = () =>
  function* () {
    for (;;) yield;
  };

/** Bit of a GPR in a TDG.VP.VMCALL GPR select mask. */
const sel = (w: TdWorld, ...regs: string[]) =>
  regs.reduce((m, r) => m | (1n << w.spec.enumValue("GPR_INDEX", r)), 0n);

/** The guest's TDG.VP.VMCALL registers, kept for the test to look at after the host answered. */
const seen: Registers[] = [];
function vmcallGuest(mask: (w: TdWorld) => bigint, w: TdWorld): GuestProgram {
  return function* (port) {
    const regs = leafRegisters(w.spec, w.spec.tdcall("TDG.VP.VMCALL"), { control: mask(w) });
    Object.assign(regs, { RBX: 0xB0n, RDX: 0xD0n, RSI: 0x51n, R10: 0x10n, R11: 0x11n, R12: 0x12n });
    port.tdcall(regs);
    yield;
    seen.push(regs);
  };
}

/** Raises `n` EPT-violation exits at a private GPA, as the CPU would for an unmapped page. */
const faulting = (n: number) => (p: Platform) =>
  function* (port: Parameters<GuestProgram>[0]) {
    for (let i = 0; i < n; i++) {
      const s = p.module.state;
      s.vcpus.get(s.lpCurrentVcpu.get(port.lpId)!)!.pendingExit = {
        kind: "async",
        status: "TDX_SUCCESS",
        reason: "EPT_VIOLATION",
        gpa: 0x30_0000n,
      };
      yield;
    }
    for (;;) yield;
  };

const exitRow = (
  status: string,
  why: string,
  exit: Omit<PendingAsyncExit, "kind">,
  then?: TdStatusRow["then"],
): TdStatusRow => ({
  status,
  detail: (w) => reason(w, exit.reason),
  why,
  world: running(cpuExit(exit)),
  setup: (w) => call(w),
  then,
});

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    detail: (w) => reason(w, "TDCALL"),
    why: "TDG.VP.VMCALL: the selected GPRs go out, the others are 0",
    world: { vcpus: [{}], finalize: true },
    setup: (w) => {
      w.p.cpu.attachGuestProgram(w.td.tdr, vmcallGuest((w) => sel(w, "RBX", "R11", "R12"), w));
      return call(w);
    },
    then: (w, r) => {
      const mask = sel(w, "RBX", "R11", "R12");
      assert.equal(r.out.exit_qualification, mask);
      assert.equal(r.out.exit_rbx, 0xB0n);
      assert.equal(r.out.exit_r11, 0x11n);
      assert.equal(r.out.exit_r12, 0x12n);
      assert.equal(r.out.exit_r10, 0n);
      assert.equal(r.out.exit_rsi, 0n);
      assert.equal(w.vcpuState().lastTdExit, "LAST_EXIT_TDVMCALL");
      assert.equal(w.vcpuState().state, "initialized");
      // The host answers in R11 (selected) and R10 (not selected); the guest sees R11 only.
      seen.length = 0;
      const again = w.enter(w.vcpu, 0, { vmcall_out_r11: 0xBEEFn, vmcall_out_r10: 0xDEADn });
      assert.equal(seen.length, 1);
      assert.equal(seen[0].R11, 0xBEEFn);
      assert.equal(seen[0].R10, 0x10n);
      assert.equal(seen[0].RAX, 0n);
      assert.equal(seen[0].RCX, mask);
      // Its program then ends: the vCPU shuts down for good.
      assert.equal(again.name, "TDX_NON_RECOVERABLE_VCPU");
      assert.equal(again.detail, reason(w, "TRIPLE_FAULT"));
      assert.equal(w.vcpuState().state, "disabled");
    },
  },
  {
    status: "TDX_SUCCESS",
    detail: (w) => reason(w, "EPT_VIOLATION"),
    why: "TDG.MEM.PAGE.ACCEPT of a page the host never added: an ACCEPT-type EPT violation",
    world: { vcpus: [{}], finalize: true },
    setup: (w) => {
      w.p.cpu.attachGuestProgram(w.td.tdr, function* (port) {
        const r = tdcallByName(w.spec, port, "TDG.MEM.PAGE.ACCEPT", {
          gpa_and_level: gpaAndLevel(w.p, 0x40_0000n, 0),
        });
        if (port.exitRequested) yield;
        void r;
        for (;;) yield;
      });
      return call(w);
    },
    then: (w, r) => {
      assert.equal(r.out.gpa, 0x40_0000n);
      const eeq = decodeBits(
        w.spec.bitfield("TD_EXIT_EXT_QUALIFICATION").fields,
        r.out.ext_exit_qualification,
      ).fields;
      assert.equal(eeq.TYPE, w.spec.enumValue("TD_EXIT_EEQ_TYPE", "ACCEPT"));
      const info = decodeBits(w.spec.bitfield("TDACCEPT_EEQ_INFO").fields, eeq.INFO).fields;
      assert.equal(info.REQ_SEPT_LEVEL, 0n);
      assert.equal(info.ERR_SEPT_LEVEL, 3n);
      const q = decodeBits(
        w.spec.bitfield("VMX_EPT_VIOLATION_QUALIFICATION").fields,
        r.out.exit_qualification,
      ).fields;
      assert.equal(q.DATA_WRITE, 1n);
    },
  },
  {
    status: "TDX_SUCCESS",
    detail: (w) => reason(w, "INTERRUPT"),
    why: "the guest gave the LP back: an external-interrupt exit, then it resumes",
    world: running(spinning),
    setup: (w) => call(w),
    then: (w, r) => {
      assert.equal(r.out.exit_rbx, 0n);
      assert.equal(w.enter().name, "TDX_SUCCESS");
      assert.equal(w.state.lpCurrentVcpu.size, 0);
      assert.equal(w.tdState.epochRefcount?.[1], 0);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "after a trap-like exit the host may pass its recoverability hint",
    world: running((p) =>
      function* (port) {
        const s = p.module.state;
        const regs = leafRegisters(p.spec, p.spec.tdcall("TDG.VP.INFO"), {});
        regs.RAX = p.spec.statusValue("TDX_HOST_PRIORITY_BUSY_TIMEOUT");
        s.vcpus.get(s.lpCurrentVcpu.get(port.lpId)!)!.pendingExit = {
          kind: "async",
          status: "TDX_HOST_PRIORITY_BUSY_TIMEOUT",
          reason: "TDCALL",
          regs,
        };
        yield;
        seen.length = 0;
        seen.push(regs);
        for (;;) yield;
      }
    ),
    setup: (w) => {
      assert.equal(w.enter().name, "TDX_HOST_PRIORITY_BUSY_TIMEOUT");
      assert.equal(w.vcpuState().lastTdExit, "LAST_EXIT_ASYNC_TRAP");
      return call(w, handle(w, { host_recoverability_hint: 1n }));
    },
    then: (w) => {
      const f = decodeBits(w.spec.bitfield("TDX_STATUS").fields, seen[0].RAX).fields;
      assert.equal(f.host_recoverability_hint, 1n);
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w, w.page())),
  {
    status: "TDX_LIMIT_CPUID_MAXVAL_SET",
    why: "IA32_MISC_ENABLE limits CPUID maxval on this LP",
    world: running(),
    setup: (w) => {
      const v = encodeBits(w.spec.bitfield("IA32_MISC_ENABLE").fields, { LIMIT_CPUID_MAXVAL: 1n });
      w.p.cpu.setLpMsr(0, "IA32_MISC_ENABLE", v);
      return call(w);
    },
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "RCX bits 11:0 not 0",
    world: running(),
    setup: (w) => call(w, w.vcpu | 1n),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "RCX bits 63:54 not 0",
    world: running(),
    setup: (w) => call(w, w.vcpu | (1n << 60n)),
  },
  ...hpaRows({
    operand: "RCX",
    what: "TDVPR",
    world: running(),
    call: (w, pa) => call(w, pa & ~0xFFFn),
    page: (w) => w.vcpu,
    wrongPage: (w) => w.td.tdr,
    lock: "shared",
    lockKey: lockKey.page,
  }).filter((r) => !r.why.includes("aligned")),
  {
    status: "TDX_OPERAND_BUSY",
    operand: "TDR",
    why: "the owner TDR is locked exclusively",
    world: running(),
    setup: (w) => {
      w.hold(lockKey.page(w.td.tdr));
      return call(w);
    },
  },
  {
    status: "TDX_TD_FATAL",
    why: "an earlier non-recoverable TD exit",
    world: fatalWorld,
    setup: (w) => {
      runToFatal(w);
      return call(w);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "the vCPU was flushed and the TD blocked",
    world: running(),
    setup: (w) => {
      w.ok("TDH.VP.FLUSH", { tdvpr_pa: w.vcpu });
      blockTd(w);
      return call(w);
    },
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "fewer TDCS pages than the minimum (injected)",
    world: running(),
    setup: (w) => {
      dropTdcsPages(w);
      return call(w);
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "OP_STATE",
    why: "the OP_STATE lock is held exclusively",
    world: running(),
    setup: (w) => {
      w.hold(opStateLock(w));
      return call(w);
    },
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "TDH.MR.FINALIZE not done",
    world: { vcpus: [{}] },
    setup: (w) => call(w),
  },
  {
    status: "TDX_TDCX_NUM_INCORRECT",
    why: "a created vCPU with only its TDVPR",
    world: { vcpus: [{ init: false, tdvpsPages: 1 }, {}], finalize: true },
    setup: (w) => call(w),
  },
  {
    status: "TDX_VCPU_STATE_INCORRECT",
    why: "created but never initialised",
    world: { vcpus: [{ init: false }, {}], finalize: true },
    setup: (w) => call(w),
  },
  {
    status: "TDX_VCPU_STATE_INCORRECT",
    why: "disabled by a non-recoverable vCPU exit",
    world: running(),
    setup: (w) => {
      assert.equal(w.enter().name, "TDX_NON_RECOVERABLE_VCPU");
      return call(w);
    },
  },
  {
    status: "TDX_VCPU_ASSOCIATED",
    why: "associated with LP 0, entered on LP 1",
    world: running(spinning),
    setup: (w) => call(w, w.vcpu, {}, 1),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a recoverability hint without a trap-like exit before",
    world: running(spinning),
    setup: (w) => call(w, handle(w, { host_recoverability_hint: 1n })),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "RESUME_L1 while the vCPU is in L1",
    world: running(spinning),
    setup: (w) => call(w, handle(w, { resume_l1: 1n })),
  },
  {
    status: "TDX_INCONSISTENT_MSR",
    detail: (w) => w.p.cpu.msrs.index("IA32_TSC_ADJUST"),
    why: "IA32_TSC_ADJUST changed on this LP",
    world: running(spinning),
    setup: (w) => {
      w.p.cpu.setLpMsr(0, "IA32_TSC_ADJUST", 3n);
      return call(w);
    },
  },
  {
    status: "TDX_TSC_ROLLBACK",
    why: "the TSC is below its value at the vCPU's last exit",
    world: running(spinning),
    setup: (w) => {
      w.p.cpu.setLpMsr(0, "IA32_TIME_STAMP_COUNTER", 5000n);
      assert.equal(w.enter().name, "TDX_SUCCESS");
      w.p.cpu.setLpMsr(0, "IA32_TIME_STAMP_COUNTER", 4000n);
      return call(w);
    },
  },
  {
    status: "TDX_INCORRECT_MSR_VALUE",
    detail: (w) => w.p.cpu.msrs.index("IA32_MISC_ENABLE"),
    why: "a TD with MONITOR/MWAIT on an LP whose MONITOR FSM is disabled",
    world: {
      beforeReady: (p) => {
        const leaf = Number(p.spec.enumValue("CPUID_LEAF", "VERSION_INFO"));
        const monitor = encodeBits(p.spec.bitfield("CPUID_01_ECX").fields, { MONITOR: 1n });
        p.cpu.cpuid.patch(leaf, "*", { ecx: p.cpu.cpuidOn(0, leaf, 0).ecx | Number(monitor) });
      },
      td: { cpuid: { 0: { ecx: 0x8 } } },
      vcpus: [{}],
      finalize: true,
      program: spinning,
    },
    setup: (w) => {
      const versionLeaf = Number(w.spec.enumValue("CPUID_LEAF", "VERSION_INFO"));
      assert.equal(cpuidConfigurable(w.spec)[0].leaf, versionLeaf);
      return call(w);
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "TD_EPOCH",
    why: "TDH.MEM.TRACK is advancing the TD epoch",
    world: running(spinning),
    setup: (w) => {
      w.hold(lockKey.tdEpoch(w.td.tdr));
      return call(w);
    },
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "zero-step defence: faulting GPAs logged and the Secure EPT locked",
    world: running(faulting(7)),
    setup: (w) => {
      for (let i = 0; i < 7; i++) assert.equal(w.enter().detail, reason(w, "EPT_VIOLATION"));
      assert.deepEqual(w.vcpuState().epfGpas, [0x30_0000n]);
      w.hold(lockKey.septTree(w.td.tdr));
      return call(w);
    },
  },
  {
    status: "TDX_SUCCESS",
    detail: (w) => reason(w, "EPT_VIOLATION"),
    why: "zero-step defence: the logged GPA still faults, so the guest is not run",
    world: running(faulting(7)),
    setup: (w) => {
      for (let i = 0; i < 7; i++) w.enter();
      return call(w);
    },
    then: (w, r) => {
      assert.equal(r.out.gpa, 0x30_0000n);
      // The guest did not run: it would have given an interrupt exit now.
      assert.equal(w.enter().detail, reason(w, "EPT_VIOLATION"));
    },
  },
  exitRow(
    "TDX_NON_RECOVERABLE_VCPU",
    "a triple fault in the guest",
    { status: "TDX_NON_RECOVERABLE_VCPU", reason: "TRIPLE_FAULT" },
    (w) => assert.equal(w.vcpuState().state, "disabled"),
  ),
  exitRow(
    "TDX_NON_RECOVERABLE_TD",
    "a notification VM exit with an invalid VM context",
    { status: "TDX_NON_RECOVERABLE_TD", reason: "NOTIFICATION", qualification: 1n << 12n },
    (w, r) => {
      assert.equal(w.tdState.fatal, true);
      assert.equal(r.out.exit_qualification, 1n << 12n);
    },
  ),
  exitRow(
    "TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE",
    "a machine-check SMI while the guest ran",
    { status: "TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE", reason: "SMI_OTHER_EVENT" },
    (w) => assert.equal(w.tdState.fatal, true),
  ),
  exitRow(
    "TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE",
    "the zero-step defence found the local APIC disabled",
    { status: "TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE", reason: "INTERRUPT" },
  ),
  exitRow(
    "TDX_NON_RECOVERABLE_TD_CORRUPTED_MD",
    "corrupted TD metadata found during a TDCALL",
    { status: "TDX_NON_RECOVERABLE_TD_CORRUPTED_MD", reason: "EXCEPTION_OR_NMI" },
  ),
  exitRow(
    "TDX_CROSS_TD_TRAP",
    "a service TD's cross-TD access hit a problem",
    { status: "TDX_CROSS_TD_TRAP", reason: "TDCALL" },
    (w) => assert.equal(w.vcpuState().lastTdExit, "LAST_EXIT_ASYNC_TRAP"),
  ),
  exitRow(
    "TDX_HOST_PRIORITY_BUSY_TIMEOUT",
    "a guest TDCALL kept finding a resource busy with host priority",
    { status: "TDX_HOST_PRIORITY_BUSY_TIMEOUT", reason: "TDCALL" },
  ),
  exitRow(
    "TDX_TD_EXIT_BEFORE_L2_ENTRY",
    "debug TD: the L1 VMM is about to enter an L2 VM",
    { status: "TDX_TD_EXIT_BEFORE_L2_ENTRY", reason: "TDCALL" },
  ),
  exitRow(
    "TDX_TD_EXIT_ON_L2_VM_EXIT",
    "debug TD: an L2 VM exited",
    { status: "TDX_TD_EXIT_ON_L2_VM_EXIT", reason: "CPUID_INSTRUCTION" },
  ),
  exitRow(
    "TDX_TD_EXIT_ON_L2_TO_L1",
    "debug TD: an L2 VM exit goes to the L1 VMM",
    { status: "TDX_TD_EXIT_ON_L2_TO_L1", reason: "CPUID_INSTRUCTION" },
  ),
]);
