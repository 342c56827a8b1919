import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { tdcallByName } from "../../cpu/leaf_call.ts";
import { GuestHarness } from "../testing/guest_harness.ts";

/** RCX for TDG.VP.VMCALL exposing the given GPR numbers. */
function control(h: GuestHarness, gprs: number[], extra: Record<string, bigint> = {}): bigint {
  const fields = h.spec.tdcall("TDG.VP.VMCALL").inputs.find((r) => r.name === "control")!.fields!;
  const select = gprs.reduce((m, n) => m | (1n << BigInt(n)), 0n);
  return encodeBits(fields, { GPR_SELECT: select, ...extra });
}

const GHCI_GPRS = [2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

Deno.test("TDG.VP.VMCALL leaves the pending TDVMCALL on the vCPU", () => {
  const h = new GuestHarness();
  const rcx = control(h, GHCI_GPRS);
  const r = h.tdcall("TDG.VP.VMCALL", { control: rcx });
  assert.equal(r.name, "TDX_SUCCESS");
  const exit = h.vcpu.pendingExit;
  assert.equal(exit?.kind, "tdvmcall");
  if (exit?.kind === "tdvmcall") {
    assert.equal(exit.mask, rcx);
    assert.equal(exit.regs, r.regs);
  }
});

Deno.test("TDG.VP.VMCALL makes the running guest program yield (TD exit)", () => {
  const h = new GuestHarness();
  const rcx = control(h, GHCI_GPRS);
  let exitSeen = false;
  h.p.cpu.attachGuestProgram(h.td.tdr, function* (port) {
    tdcallByName(h.spec, port, "TDG.VP.VMCALL", { control: rcx });
    exitSeen = port.exitRequested;
    yield;
  });
  const ran = h.p.cpu.vmEnter(h.p.cpu.lps[0], h.vcpu.tdvpr, h.td.tdr, h.vcpu.index);
  assert.equal(ran.kind, "tdvmcall");
  assert.equal(exitSeen, true);
});

const bad: { why: string; gprs: number[]; extra?: Record<string, bigint>; noRbpMod?: boolean }[] = [
  { why: "RAX selected", gprs: [0, 2] },
  { why: "RCX selected", gprs: [1, 2] },
  { why: "RSP selected", gprs: [4, 2] },
  { why: "reserved bits 63:32", gprs: [2], extra: { RESERVED: 1n } },
  { why: "RBP selected under NO_RBP_MOD", gprs: [2, 5], noRbpMod: true },
];

for (const c of bad) {
  Deno.test(`TDG.VP.VMCALL: ${c.why} -> TDX_OPERAND_INVALID RCX`, () => {
    const h0 = new GuestHarness();
    const flags = encodeBits(h0.spec.bitfield("CONFIG_FLAGS").fields, {
      NO_RBP_MOD: c.noRbpMod ? 1n : 0n,
    });
    const h = new GuestHarness({ configFlags: flags });
    const r = h.tdcall("TDG.VP.VMCALL", { control: control(h, c.gprs, c.extra) });
    assert.equal(r.name, "TDX_OPERAND_INVALID");
    assert.equal(r.operand, "RCX");
    assert.equal(h.vcpu.pendingExit, undefined);
  });
}

Deno.test("TDG.VP.VMCALL: RBP may be exposed without NO_RBP_MOD", () => {
  const h = new GuestHarness();
  assert.equal(h.tdcall("TDG.VP.VMCALL", { control: control(h, [2, 5]) }).name, "TDX_SUCCESS");
});
