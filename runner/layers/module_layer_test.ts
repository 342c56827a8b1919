import { strict as assert } from "node:assert";
import { Platform } from "../../impl/module/testing/fixture.ts";
import { MemoryTd } from "../../impl/module/testing/memory_fixture.ts";
import { toHex } from "../../impl/spec/hex.ts";
import { ModuleSession } from "./module_layer.ts";

/** A session on an initialized TD with no Secure EPT page below the root. */
function td() {
  const p = new Platform();
  const m = new MemoryTd(p);
  return { m, s: new ModuleSession(p), tdr: toHex(m.tdr) };
}

Deno.test("seamcall: out_regs reports RCX and RDX on a Secure EPT walk failure", () => {
  const { s, tdr } = td();
  // Level 1 with no level-2 page: the walk stops at the FREE level-3 entry.
  const input = { leaf: "TDH.MEM.SEPT.RD", version: 0, regs: { RCX: "0x40000001", RDX: tdr } };
  const plain = s.step("seamcall", input);
  assert.deepEqual(plain.status, { name: "TDX_EPT_WALK_FAILED", operand: "RCX" });
  assert.equal(plain.regs, undefined, "an error reports no registers unless asked");
  const r = s.step("seamcall", { ...input, out_regs: ["RCX", "RDX"] });
  // RCX: a FREE entry (only SVE, bit 63); RDX: level 3, state FREE.
  assert.deepEqual(r.regs, { RCX: "0x8000000000000000", RDX: "0x3" });
});

Deno.test("seamcall: out_regs adds to the output registers of a success", () => {
  const { s, tdr } = td();
  const r = s.step("seamcall", {
    leaf: "TDH.MEM.SEPT.RD",
    version: 0,
    regs: { RCX: "0x3", RDX: tdr, R12: "0x1234" },
    out_regs: ["R12"],
  });
  const regs = r.regs as Record<string, string>;
  assert.equal(regs.RDX, "0x3", "the leaf's outputs are still there");
  assert.equal(regs.R12, "0x1234");
});

Deno.test("seamcall: out_regs naming no register is an invalid input", () => {
  const { s, tdr } = td();
  const r = s.step("seamcall", {
    leaf: "TDH.MEM.SEPT.RD",
    version: 0,
    regs: { RCX: "0x3", RDX: tdr },
    out_regs: ["XMM0"],
  });
  assert.deepEqual(r.error, { class: "invalid-input", field: "out_regs" });
});

/** A session on a finalized TD with one L2 VM (no virtual-APIC page set). */
function l2Td() {
  const p = new Platform();
  p.readyPlatform();
  const m = new MemoryTd(p, { stage: "initialized", numL2Vms: 1 });
  m.pageAdd(0x1000_0000n);
  m.pageAdd(0x1000_1000n);
  m.finalize();
  const s = new ModuleSession(p);
  const vcpu = toHex(m.vcpus[0]);
  return {
    p,
    tdcall: (extra: Record<string, unknown>) =>
      s.step("tdcall", {
        vcpu,
        leaf: "TDG.VP.ENTER",
        version: 0,
        regs: { RCX: "0x10000000000000", RDX: "0x10000000" },
        ...extra,
      }),
  };
}

const BAD_INPUTS: [string, Record<string, unknown>, string][] = [
  ["l2_guest not a list", { l2_guest: { vm: 1 } }, "l2_guest"],
  ["VM 0 (the L1 VMM)", { l2_guest: [{ vm: 0, exit_reason: "HLT_INSTRUCTION" }] }, "l2_guest.0.vm"],
  ["VM 4", { l2_guest: [{ vm: 4, exit_reason: "HLT_INSTRUCTION" }] }, "l2_guest.0.vm"],
  [
    "an unknown exit reason",
    { l2_guest: [{ vm: 1, exit_reason: "HLT_INSTRUCTION" }, { vm: 1, exit_reason: "HALT" }] },
    "l2_guest.1.exit_reason",
  ],
  [
    "exit information the op does not know",
    { l2_guest: [{ vm: 1, exit_reason: "HLT_INSTRUCTION", qualification: "0x1" }] },
    "l2_guest.0.qualification",
  ],
  [
    "exit information that is not hex",
    { l2_guest: [{ vm: 1, exit_reason: "HLT_INSTRUCTION", instruction: 1 }] },
    "l2_guest.0.instruction",
  ],
  [
    "a TDCALL setting no register",
    { l2_guest: [{ vm: 1, tdcall: { XMM0: "0x1" } }] },
    "l2_guest.0.tdcall.XMM0",
  ],
  [
    "a TDCALL with an exit reason too",
    { l2_guest: [{ vm: 1, tdcall: {}, exit_reason: "HLT_INSTRUCTION" }] },
    "l2_guest.0.exit_reason",
  ],
  ["resume not a list", { resume: { flags: {} } }, "resume"],
  ["a resume key", { resume: [{ regs: {} }] }, "resume.0.regs"],
  ["the TDVPR as a flag", { resume: [{ flags: { tdvpr_pa: 1 } }] }, "resume.0.flags.tdvpr_pa"],
  [
    "a reserved field as a flag",
    { resume: [{ flags: { reserved_1: 1 } }] },
    "resume.0.flags.reserved_1",
  ],
  ["a 1-bit flag of 2", { resume: [{}, { flags: { resume_l1: 2 } }] }, "resume.1.flags.resume_l1"],
  ["RCX from the host", { resume: [{ host_regs: { RCX: "0x1" } }] }, "resume.0.host_regs.RCX"],
];

for (const [what, extra, field] of BAD_INPUTS) {
  Deno.test(`tdcall: ${what} is an invalid input naming ${field}; nothing ran`, () => {
    const { p, tdcall } = l2Td();
    const before = p.module.last;
    const r = tdcall(extra);
    const e = r.error as { class: string; field: string };
    assert.deepEqual([e?.class, e?.field], ["invalid-input", field]);
    assert.equal(p.module.last, before, "the host did not enter the vCPU");
  });
}

Deno.test("tdcall: an L2 VM exit the module does not handle is an invalid input", () => {
  const { tdcall } = l2Td();
  const vapic = tdcall({
    leaf: "TDG.VP.WR",
    regs: { RDX: "0x2424000300002012", R8: "0x10001000", R9: "0xFFFFFFFFFFFFFFFF" },
  });
  assert.deepEqual(vapic.status, { name: "TDX_SUCCESS" });
  const r = tdcall({ l2_guest: [{ vm: 1, exit_reason: "EPT_VIOLATION" }] });
  const e = r.error as { class: string; field: string };
  assert.deepEqual([e.class, e.field], ["invalid-input", "l2_guest"]);
});
